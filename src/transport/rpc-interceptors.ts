// Cross-cutting behaviour of every RPC, on both listeners.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withCall } from "../shared/call-signal.js";
import { toConnectError } from "./rpc-errors.js";
import { describePrincipal, kPrincipal } from "../auth/principal.js";
import type { Logger } from "../observability/logger.js";

/**
 * Maps errors (see rpc-errors.ts) and writes one log line per RPC, when it
 * ends. A server stream fails while its messages are read, after next() has
 * returned: its messages pass through the same mapping. The handler runs
 * inside the call's scope (shared/call-signal.ts): its database and S3 calls
 * stop waiting when the caller's deadline passes or the caller goes away.
 */
export function rpcBoundary(log: Logger): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    const done = (code: string) =>
      log.info(
        {
          rpc,
          code,
          ms: Math.round((performance.now() - started) * 10) / 10,
          principal: describePrincipal(req.contextValues.get(kPrincipal)),
          protocol: req.header.get("content-type"),
        },
        "rpc",
      );
    const failed = (e: unknown) => {
      const error = toConnectError(e, log, rpc);
      done(Code[error.code]);
      return error;
    };
    let res;
    try {
      const signal = req.signal;
      res = await withCall({ signal, why: () => (isDeadline(signal.reason) ? "deadline" : "cancelled") }, () => next(req));
    } catch (e) {
      throw failed(e);
    }
    if (!res.stream) {
      done("ok");
      return res;
    }
    return { ...res, message: mapStreamErrors(res.message, failed, () => done("ok")) };
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, failed: (e: unknown) => Error, ended: () => void): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (e) {
    throw failed(e);
  }
  ended();
}

/** connect aborts a call's signal with DeadlineExceeded when the caller's deadline (grpc-timeout, connect-timeout-ms) passes. */
function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}
