// Environment → typed, validated settings. Every problem is reported at once,
// by setting name, so an operator fixes a bad deployment in one pass. Values of
// secrets never appear in messages.
import { z } from "zod";

const MIB = 1024 * 1024;
/** S3 refuses presigned URLs valid for longer than 7 days. */
export const MAX_URL_TTL_SECONDS = 7 * 24 * 3600;

const int = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max, message).default(fallback);
};
const port = (fallback: number) => int(0, 65535, fallback);
const seconds = (fallback: number) => int(1, MAX_URL_TTL_SECONDS, fallback);
const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", ""])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");
const list = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  );
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const required = z
  .string({ error: (issue) => (issue.input === undefined ? "is required" : "must be text") })
  .trim()
  .min(1, "is required");

const schema = z
  .object({
    DATABASE_URL: required.refine((v) => /^mysql:\/\//.test(v), "must be a mysql:// URL"),
    S3_ENDPOINT: optional.pipe(z.url({ message: "must be a URL" }).optional()),
    S3_PUBLIC_ENDPOINT: optional.pipe(z.url({ message: "must be a URL" }).optional()),
    S3_REGION: z.string().trim().min(1).default("us-east-1"),
    S3_BUCKET: required,
    S3_FORCE_PATH_STYLE: bool(false),
    HOST: z.string().trim().min(1).default("0.0.0.0"),
    GRPC_PORT: port(9001),
    HTTP_PORT: port(8080),
    TLS_CA_FILE: required,
    TLS_CERT_FILE: required,
    TLS_KEY_FILE: required,
    PUBLIC_TLS_CERT_FILE: optional,
    PUBLIC_TLS_KEY_FILE: optional,
    ALLOWED_CLIENTS: list.refine((v) => v.length > 0, "must name at least one client service"),
    JWT_SECRET: optional.refine(
      (v) => v === undefined || Buffer.byteLength(v, "utf8") >= 32,
      "must be at least 32 bytes (HS256 needs a key as long as its hash)",
    ),
    JWT_JWKS_URL: optional.pipe(z.url({ message: "must be a URL" }).optional()),
    JWT_ALGORITHMS: list,
    JWT_ISSUER: required,
    JWT_AUDIENCE: required,
    CORS_ORIGINS: list,
    UPLOAD_URL_TTL_SECONDS: seconds(900),
    DOWNLOAD_URL_TTL_SECONDS: seconds(900),
    MAX_FILES_PER_BATCH: int(1, 100, 10),
    // A single presigned PUT cannot exceed 5 GiB on S3.
    MAX_FILE_SIZE_BYTES: int(1, 5 * 1024 * MIB, 10 * MIB),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 10_000),
  });

// Rules between settings, checked on the raw environment so they are reported
// together with the per-setting problems.
function crossChecks(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? "").trim() !== "";
  const problems: string[] = [];
  if (set("JWT_SECRET") === set("JWT_JWKS_URL")) {
    problems.push("JWT_SECRET: set exactly one of JWT_SECRET or JWT_JWKS_URL");
  }
  if (set("PUBLIC_TLS_CERT_FILE") !== set("PUBLIC_TLS_KEY_FILE")) {
    problems.push("PUBLIC_TLS_CERT_FILE: set both PUBLIC_TLS_CERT_FILE and PUBLIC_TLS_KEY_FILE, or neither");
  }
  const algorithms = (env.JWT_ALGORITHMS ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
  if (set("JWT_SECRET") && algorithms.some((a) => a !== "HS256")) {
    problems.push("JWT_ALGORITHMS: with JWT_SECRET only HS256 is possible");
  }
  if (algorithms.some((a) => a.toLowerCase() === "none")) {
    problems.push("JWT_ALGORITHMS: 'none' is never accepted");
  }
  return problems;
}

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  databaseUrl: string;
  s3: { endpoint?: string; publicEndpoint?: string; region: string; bucket: string; forcePathStyle: boolean };
  tls: { caFile: string; certFile: string; keyFile: string };
  publicTls?: { certFile: string; keyFile: string };
  allowedClients: string[];
  jwt: {
    secret?: string;
    jwksUrl?: string;
    algorithms: string[];
    issuer: string;
    audience: string;
  };
  corsOrigins: string[];
  limits: {
    maxFilesPerBatch: number;
    maxFileSizeBytes: number;
    uploadUrlTtlSeconds: number;
    downloadUrlTtlSeconds: number;
  };
  logLevel: string;
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  // Issue messages describe the rule, never the value, so secrets stay out.
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)),
    ...crossChecks(env),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  return {
    host: e.HOST,
    grpcPort: e.GRPC_PORT,
    httpPort: e.HTTP_PORT,
    databaseUrl: e.DATABASE_URL,
    s3: {
      endpoint: e.S3_ENDPOINT,
      publicEndpoint: e.S3_PUBLIC_ENDPOINT,
      region: e.S3_REGION,
      bucket: e.S3_BUCKET,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
    },
    tls: { caFile: e.TLS_CA_FILE, certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE },
    publicTls:
      e.PUBLIC_TLS_CERT_FILE && e.PUBLIC_TLS_KEY_FILE
        ? { certFile: e.PUBLIC_TLS_CERT_FILE, keyFile: e.PUBLIC_TLS_KEY_FILE }
        : undefined,
    allowedClients: e.ALLOWED_CLIENTS,
    jwt: {
      secret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      algorithms:
        e.JWT_ALGORITHMS.length > 0 ? e.JWT_ALGORITHMS : e.JWT_SECRET !== undefined ? ["HS256"] : ["RS256", "ES256"],
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    corsOrigins: e.CORS_ORIGINS,
    limits: {
      maxFilesPerBatch: e.MAX_FILES_PER_BATCH,
      maxFileSizeBytes: e.MAX_FILE_SIZE_BYTES,
      uploadUrlTtlSeconds: e.UPLOAD_URL_TTL_SECONDS,
      downloadUrlTtlSeconds: e.DOWNLOAD_URL_TTL_SECONDS,
    },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}
