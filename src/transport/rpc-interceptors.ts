// Cross-cutting behaviour of every RPC, on both listeners.
import { Code, type Interceptor } from "@connectrpc/connect";
import { toConnectError } from "./rpc-errors.js";
import { describePrincipal, kPrincipal } from "../auth/principal.js";
import type { Logger } from "../observability/logger.js";

/** Maps errors (see rpc-errors.ts) and writes one log line per RPC. */
export function rpcBoundary(log: Logger): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    let code = "ok";
    try {
      return await next(req);
    } catch (e) {
      const error = toConnectError(e, log, rpc);
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
