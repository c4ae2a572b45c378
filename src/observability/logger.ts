// Structured JSON logs. Nothing that authenticates (tokens, keys, presigned
// query strings) is ever passed to the logger; redaction is the safety net.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "file-service" },
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization", "url", "*.url", "token", "*.token"],
      censor: "[redacted]",
    },
  });
}
