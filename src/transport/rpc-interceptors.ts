// Cross-cutting behaviour of every RPC, on both listeners.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withCall, type CallScope } from "../shared/call-signal.js";
import { toConnectError } from "./rpc-errors.js";
import { describePrincipal, kPrincipal } from "../auth/principal.js";
import type { Logger } from "../observability/logger.js";
import { kRpcTraceId } from "../observability/rpc-telemetry.js";

/**
 * Maps errors (see rpc-errors.ts) and writes one log line per RPC, when it
 * ends. A server stream fails while its messages are read, after next() has
 * returned: its messages pass through the same mapping. The handler of a call
 * with a deadline runs inside the call's scope (shared/call-signal.ts): its
 * database and S3 calls stop waiting when the deadline passes or the caller
 * goes away.
 */
export function rpcBoundary(log: Logger): Interceptor {
  // Per RPC only what it needs: no closures, and below the level (LOG_LEVEL=warn)
  // the line's fields are not even gathered.
  const line = (req: AnyRequest, started: number, code: string) => {
    if (!log.isLevelEnabled("info")) return;
    log.info(
      {
        rpc: rpcName(req),
        code,
        // Set by rpcTelemetry (outside this boundary); the logger's mixin gives the same id when the span is active.
        traceId: req.contextValues.get(kRpcTraceId),
        ms: Math.round((performance.now() - started) * 10) / 10,
        principal: describePrincipal(req.contextValues.get(kPrincipal)),
        protocol: req.header.get("content-type"),
      },
      "rpc",
    );
  };
  const failed = (req: AnyRequest, started: number, e: unknown) => {
    const traceId = req.contextValues.get(kRpcTraceId);
    const error = toConnectError(e, traceId === undefined ? log : log.child({ traceId }), rpcName(req));
    line(req, started, Code[error.code]);
    return error;
  };
  return (next) => async (req) => {
    const started = performance.now();
    let res;
    try {
      // Only a call with a deadline gets a scope: carrying it through every continuation costs
      // about 26 µs a GetFile (BENCHMARKS.md), the price of answering at the deadline.
      res = hasDeadline(req) ? await withCall(new RpcScope(req.signal), next, req) : await next(req);
    } catch (e) {
      throw failed(req, started, e);
    }
    if (!res.stream) {
      line(req, started, "ok");
      return res;
    }
    return {
      ...res,
      message: mapStreamErrors(res.message, (e) => failed(req, started, e), () => line(req, started, "ok")),
    };
  };
}

type AnyRequest = Parameters<Parameters<Interceptor>[0]>[0];

function rpcName(req: AnyRequest): string {
  return `${req.service.typeName}/${req.method.name}`;
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, failed: (e: unknown) => Error, ended: () => void): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (e) {
    throw failed(e);
  }
  ended();
}

/** The caller set a deadline: gRPC and gRPC-Web send grpc-timeout, Connect connect-timeout-ms. */
function hasDeadline(req: AnyRequest): boolean {
  return req.header.has("grpc-timeout") || req.header.has("connect-timeout-ms");
}

/** The call's scope: connect aborts its signal with DeadlineExceeded when the caller's deadline (grpc-timeout, connect-timeout-ms) passes. */
class RpcScope implements CallScope {
  constructor(readonly signal: AbortSignal) {}
  why(): "deadline" | "cancelled" {
    const reason: unknown = this.signal.reason;
    return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? "deadline" : "cancelled";
  }
}
