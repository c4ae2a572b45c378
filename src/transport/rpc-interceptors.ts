// Cross-cutting behaviour of every RPC, on both listeners.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { DependencyUnavailableError } from "../errors.js";
import { describePrincipal, kPrincipal } from "../auth/principal.js";
import type { Logger } from "../observability/logger.js";

/**
 * Callers see a Code and a message they can act on, never a stack trace or an
 * internal message: a failed dependency is Unavailable (retry), anything
 * unexpected is a bare Internal; the cause goes to the log only.
 */
export function toPublicError(error: unknown, log: Logger, rpc: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DependencyUnavailableError) {
    log.warn({ rpc, err: error.cause }, `${error.dependency} unavailable`);
    return new ConnectError(`${error.dependency} is unavailable, retry later`, Code.Unavailable);
  }
  log.error({ rpc, err: error }, "unexpected error");
  return new ConnectError("internal error", Code.Internal);
}

/** Maps errors (see toPublicError) and writes one log line per RPC. */
export function rpcBoundary(log: Logger): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    let code = "ok";
    try {
      return await next(req);
    } catch (e) {
      const error = toPublicError(e, log, rpc);
      code = Code[error.code];
      throw error;
    } finally {
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
    }
  };
}
