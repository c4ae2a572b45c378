// Cross-cutting behaviour of every RPC, on both listeners.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withCall, type CallEnd, type CallScope } from "../shared/call-signal.js";
import { toConnectError } from "./rpc-errors.js";
import { describePrincipal, kPrincipal } from "../auth/principal.js";
import type { Logger } from "../observability/logger.js";
import { kRpcTraceId } from "../observability/rpc-telemetry.js";

export interface BoundaryOptions {
  /**
   * CALL_TIMEOUT_MS: the longest the service works on a unary or client-stream
   * call once its request is in (a stream: since its last message arrived). A
   * call still waiting on the database or S3 then answers Unavailable.
   */
  callTimeoutMs?: number;
}

/**
 * Maps errors (see rpc-errors.ts) and writes one log line per RPC, when it
 * ends. A server stream fails while its messages are read, after next() has
 * returned: its messages pass through the same mapping. The handler runs inside
 * the call's scope (shared/call-signal.ts): its database and S3 calls stop
 * waiting when the caller's deadline passes, the caller goes away, or the
 * call's own time (callTimeoutMs) runs out. A server stream (WatchFiles) is
 * meant to last: it gets a scope only when its caller set a deadline.
 */
export function rpcBoundary(log: Logger, options: BoundaryOptions = {}): Interceptor {
  const { callTimeoutMs } = options;
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
    const timed = callTimeoutMs !== undefined && req.method.methodKind !== "server_streaming";
    const scope = timed ? new TimedScope(req.signal, callTimeoutMs) : hasDeadline(req) ? new CallerScope(req.signal) : undefined;
    let res;
    try {
      res = scope === undefined ? await next(req) : await withCall(scope, next, scope instanceof TimedScope ? scope.watch(req) : req);
    } catch (e) {
      throw failed(req, started, e);
    } finally {
      if (scope instanceof TimedScope) scope.close();
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

/** How connect ended a call: it aborts the call's signal with DeadlineExceeded when the caller's deadline (grpc-timeout, connect-timeout-ms) passes. */
function callerEnd(signal: AbortSignal): "deadline" | "cancelled" {
  const reason: unknown = signal.reason;
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? "deadline" : "cancelled";
}

const CALL_ENDED = new Error("the call ended");

/** The caller's end alone: connect's own signal. */
class CallerScope implements CallScope {
  constructor(readonly signal: AbortSignal) {}
  why(): CallEnd {
    return callerEnd(this.signal);
  }
}

/**
 * The caller's end, or the call's own time running out: `ms` after the request
 * is in. For a client stream the clock runs only while the service is not
 * waiting for the caller's next message (from each message's arrival until the
 * next is asked for, and after the last), so a slow sender is not cut off but
 * a stalled dependency behind a stream is.
 */
class TimedScope implements CallScope {
  private readonly ended = new AbortController();
  readonly signal = this.ended.signal;
  private end: CallEnd | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly outOfTime = () => this.finish("out_of_time");
  private readonly onCallerEnd = () => this.finish(callerEnd(this.caller));

  constructor(
    private readonly caller: AbortSignal,
    private readonly ms: number,
  ) {
    this.arm();
    if (caller.aborted) this.onCallerEnd();
    else caller.addEventListener("abort", this.onCallerEnd, { once: true });
  }

  why(): CallEnd {
    return this.end ?? "cancelled";
  }

  /** A client stream's request, its messages clocked as above; a unary request as it is. */
  watch(req: AnyRequest): AnyRequest {
    if (!req.stream) return req;
    const messages = req.message;
    const clocked: typeof messages = {
      [Symbol.asyncIterator]: () => {
        const it = messages[Symbol.asyncIterator]();
        return {
          next: async () => {
            this.disarm(); // waiting for the caller is the caller's time
            const result = await it.next();
            this.arm();
            return result;
          },
          return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
        };
      },
    };
    return { ...req, message: clocked };
  }

  close(): void {
    this.closed = true;
    this.disarm();
    this.caller.removeEventListener("abort", this.onCallerEnd);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = this.closed || this.end !== undefined ? undefined : setTimeout(this.outOfTime, this.ms);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private finish(why: CallEnd): void {
    if (this.end !== undefined) return;
    this.end = why;
    this.disarm();
    this.ended.abort(CALL_ENDED); // a shared reason: abort() without one builds a DOMException and its stack
  }
}
