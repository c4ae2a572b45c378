// Structured JSON logs. Nothing that authenticates (tokens, keys, presigned
// query strings) is ever passed to the logger; redaction is the safety net.
import { pino, type Logger } from "pino";
import { currentTraceId } from "./tracing.js";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "file-service" },
    // Lines written inside an RPC carry its trace id, to join logs with traces.
    mixin() {
      const traceId = currentTraceId();
      return traceId === undefined ? {} : { traceId };
    },
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization", "url", "*.url", "token", "*.token"],
      censor: "[redacted]",
    },
  });
}
