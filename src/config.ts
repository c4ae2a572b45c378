// Environment → typed, validated settings. Every problem is reported at once,
// by setting name, so an operator fixes a bad deployment in one pass. Values of
// secrets never appear in messages.
//
// Each part of the service runs on an embedded default until its settings are
// given: SQLite instead of MySQL (DATABASE_URL), local disk instead of S3
// (S3_BUCKET), a dev PKI instead of our CA (TLS_*), a dev JWT secret instead of
// the issuer's keys (JWT_*). With NODE_ENV=production, no part may be embedded.
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { z } from "zod";
import { MAX_URL_TTL_SECONDS } from "./storage/object-store.js";

const MIB = 1024 * 1024;
/** CORS origins allowed by default in zero-setup mode: any port on the local machine. */
export const LOCAL_DEV_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"] as const;

const int = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max, message).default(fallback);
};
const port = (fallback: number) => int(0, 65535, fallback);
const seconds = (fallback: number) => int(1, MAX_URL_TTL_SECONDS, fallback);
const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", ""], { error: "must be true or false" })
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
const optionalUrl = optional.pipe(z.url({ message: "must be a URL" }).optional());

const schema = z.object({
  NODE_ENV: optional,
  DATA_DIR: z.string().trim().min(1).default("data"),
  // Every database operation and S3 request answers within its bound: a stalled dependency is Unavailable, never a hang.
  DB_QUERY_TIMEOUT_MS: int(100, 600_000, 5_000),
  S3_REQUEST_TIMEOUT_MS: int(100, 600_000, 10_000),
  // And every call as a whole: the longest the service works on it once its request is in.
  CALL_TIMEOUT_MS: int(100, 3_600_000, 30_000),
  // Where uploads through the service wait while they arrive (the service's own folder: cleared of dead processes' files at start).
  UPLOAD_TMP_DIR: optional,
  DATABASE_URL: optional.refine((v) => v === undefined || /^mysql:\/\//.test(v), "must be a mysql:// URL"),
  S3_ENDPOINT: optionalUrl,
  S3_PUBLIC_ENDPOINT: optionalUrl,
  S3_REGION: z.string().trim().min(1).default("us-east-1"),
  S3_BUCKET: optional,
  S3_FORCE_PATH_STYLE: bool(false),
  PUBLIC_URL: optionalUrl,
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  GRPC_PORT: port(9001),
  HTTP_PORT: port(8080),
  TLS_CA_FILE: optional,
  TLS_CERT_FILE: optional,
  TLS_KEY_FILE: optional,
  PUBLIC_TLS_CERT_FILE: optional,
  PUBLIC_TLS_KEY_FILE: optional,
  ALLOWED_CLIENTS: list,
  JWT_SECRET: optional.refine(
    (v) => v === undefined || Buffer.byteLength(v, "utf8") >= 32,
    "must be at least 32 bytes (HS256 needs a key as long as its hash)",
  ),
  JWT_JWKS_URL: optionalUrl,
  JWT_ALGORITHMS: list,
  JWT_ISSUER: optional,
  JWT_AUDIENCE: optional,
  CORS_ORIGINS: list,
  // Go's HTTP/2 server defaults to 250 and common proxies to 100-256: enough for
  // many multiplexed calls, while one connection cannot open streams without bound.
  HTTP2_MAX_CONCURRENT_STREAMS: int(1, 100_000, 256),
  UPLOAD_URL_TTL_SECONDS: seconds(900),
  // Short: a presigned S3 GET issued before a delete works until it expires.
  DOWNLOAD_URL_TTL_SECONDS: seconds(300),
  // After its upload URL expires, how long a pending file waits before it expires (0: at once).
  UPLOAD_EXPIRY_GRACE_SECONDS: int(0, 30 * 86_400, 3_600),
  IDEMPOTENCY_WINDOW_SECONDS: int(1, 30 * 86_400, 86_400),
  TASK_CONCURRENCY: int(0, 64, 8),
  TASK_POLL_MS: int(50, 60_000, 1_000),
  TASK_LEASE_MS: int(1_000, 3_600_000, 60_000),
  TASK_RETRY_BASE_MS: int(10, 600_000, 1_000),
  TASK_RETRY_CAP_MS: int(10, 3_600_000, 60_000),
  MAX_FILES_PER_BATCH: int(1, 100, 10),
  // A single presigned PUT cannot exceed 5 GiB on S3; uploads through the
  // service are held on disk, not memory, but stay image-sized.
  MAX_FILE_SIZE_BYTES: int(1, 1024 * MIB, 10 * MIB),
  MAX_COVER_PHOTO_SIZE_BYTES: int(1, 1024 * MIB, 20 * MIB),
  WEBP_QUALITY: int(1, 100, 82),
  MAX_IMAGE_PIXELS: int(1, 1_000_000_000, 50_000_000),
  PROCESSING_CONCURRENCY: int(0, 64, 1),
  PROCESSING_LEASE_MS: int(1_000, 3_600_000, 60_000),
  PROCESSING_POLL_MS: int(50, 600_000, 1_000),
  PROCESSING_MAX_ATTEMPTS: int(1, 100, 5),
  PROCESSING_RETRY_BASE_MS: int(10, 600_000, 2_000),
  REDIS_URL: optional.refine((v) => v === undefined || /^rediss?:\/\//.test(v), "must be a redis:// or rediss:// URL"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 10_000),
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 60_000, 1_000),
  HEALTH_INTERVAL_MS: int(100, 600_000, 5_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  RABBITMQ_URL: optional.refine((v) => v === undefined || /^amqps?:\/\//.test(v), "must be an amqp:// or amqps:// URL"),
  RABBITMQ_EXCHANGE: z.string().trim().min(1).default("file.events"),
  WEBHOOK_URLS: list.pipe(z.array(z.url({ message: "must be comma-separated http(s) URLs" }))),
  WEBHOOK_SECRET: optional.refine(
    (v) => v === undefined || /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(v),
    "must be a Standard Webhooks secret: whsec_ followed by base64",
  ),
  WEBHOOK_MAX_ATTEMPTS: int(1, 100, 8),
  WATCH_HEARTBEAT_MS: int(100, 600_000, 15_000),
  CLAMD_URL: optional.refine((v) => v === undefined || /^tcp:\/\/[^/:]+:\d+\/?$/.test(v), "must be tcp://host:port (clamd's TCPSocket)"),
  // clamd's own default StreamMaxLength; keep the two equal.
  CLAMD_STREAM_MAX_BYTES: int(1, 4 * 1024 * MIB, 25 * MIB),
  QUARANTINE_BUCKET: optional,
  SCAN_ALLOW_UNSCANNED: bool(false),
  METRICS_TOKEN: optional,
});

// Rules between settings, checked on the raw environment so they are reported
// together with the per-setting problems.
function crossChecks(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? "").trim() !== "";
  const anySet = (names: readonly string[]) => names.some(set);
  const problems: string[] = [];

  if (!set("S3_BUCKET") && anySet(["S3_ENDPOINT", "S3_PUBLIC_ENDPOINT"])) {
    problems.push("S3_BUCKET: is required when other S3_ settings are given (without S3 settings, files go to local disk)");
  }
  const tls = ["TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"];
  if (anySet(tls)) {
    for (const name of tls.filter((n) => !set(n))) {
      problems.push(`${name}: is required when any TLS_ file is given (without them, a dev PKI is created)`);
    }
    if (!set("ALLOWED_CLIENTS")) problems.push("ALLOWED_CLIENTS: must name at least one client service");
  }
  if (set("QUARANTINE_BUCKET") && !set("S3_BUCKET")) {
    problems.push("QUARANTINE_BUCKET: needs S3 (S3_BUCKET); on local disk quarantined files move to quarantine/ beside the others");
  }
  if (set("WEBHOOK_URLS") && !set("WEBHOOK_SECRET")) {
    problems.push("WEBHOOK_SECRET: is required with WEBHOOK_URLS (events are signed; e.g. whsec_ and 24+ random bytes in base64)");
  }
  if (set("PUBLIC_TLS_CERT_FILE") !== set("PUBLIC_TLS_KEY_FILE")) {
    problems.push("PUBLIC_TLS_CERT_FILE: set both PUBLIC_TLS_CERT_FILE and PUBLIC_TLS_KEY_FILE, or neither");
  }
  const jwt = ["JWT_SECRET", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_ALGORITHMS"];
  if (anySet(jwt)) {
    if (set("JWT_SECRET") === set("JWT_JWKS_URL")) {
      problems.push("JWT_SECRET: set exactly one of JWT_SECRET or JWT_JWKS_URL");
    }
    for (const name of ["JWT_ISSUER", "JWT_AUDIENCE"].filter((n) => !set(n))) {
      problems.push(`${name}: is required when JWT settings are given (without them, a dev secret is created)`);
    }
  }
  const algorithms = (env.JWT_ALGORITHMS ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
  if (set("JWT_SECRET") && algorithms.some((a) => a !== "HS256")) {
    problems.push("JWT_ALGORITHMS: with JWT_SECRET only HS256 is possible");
  }
  if (algorithms.some((a) => a.toLowerCase() === "none")) {
    problems.push("JWT_ALGORITHMS: 'none' is never accepted");
  }
  if ((env.NODE_ENV ?? "").trim() === "production") {
    const embedded = [
      !set("DATABASE_URL") && "DATABASE_URL (else embedded SQLite)",
      !set("S3_BUCKET") && "S3_BUCKET (else local disk)",
      !anySet(tls) && "TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE (else a dev PKI)",
      !anySet(jwt) && "JWT_SECRET or JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE (else a dev secret)",
    ].filter((s): s is string => typeof s === "string");
    if (embedded.length > 0) {
      problems.push(`NODE_ENV: production refuses embedded backends; set ${embedded.join("; ")}`);
    }
  }
  return problems;
}

export interface S3Settings {
  kind: "s3";
  /** Each S3 request's bound (the SDK retries once, so a call takes at most twice this). */
  requestTimeoutMs: number;
  endpoint?: string;
  publicEndpoint?: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
}

export interface JwtKeySettings {
  secret?: string;
  jwksUrl?: string;
  algorithms: string[];
  issuer: string;
  audience: string;
}

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  /** Where embedded backends and dev material live. */
  dataDir: string;
  database: ({ kind: "mysql"; url: string } | { kind: "sqlite"; file: string }) & {
    /** Each repository operation's bound: past it the caller gets Unavailable. */
    queryTimeoutMs: number;
  };
  objects: S3Settings | { kind: "local"; dir: string; publicUrl?: string };
  tls: { kind: "files"; caFile: string; certFile: string; keyFile: string } | { kind: "dev"; dir: string };
  publicTls?: { certFile: string; keyFile: string };
  allowedClients: string[];
  jwt: ({ kind: "keys" } & JwtKeySettings) | { kind: "dev"; dir: string };
  /** Origins allowed by CORS on the public listener; "http://localhost:*" allows any port. */
  corsOrigins: string[];
  /** SETTINGS_MAX_CONCURRENT_STREAMS on every HTTP/2 listener. */
  http2MaxConcurrentStreams: number;
  limits: {
    maxFilesPerBatch: number;
    maxFileSizeBytes: number;
    maxCoverPhotoSizeBytes: number;
    uploadUrlTtlSeconds: number;
    downloadUrlTtlSeconds: number;
    uploadExpiryGraceSeconds: number;
    idempotencyWindowSeconds: number;
    uploadTmpDir: string;
  };
  images: { webpQuality: number; maxPixels: number };
  processing: {
    /** Jobs this instance runs at once; 0 runs no worker here. */
    concurrency: number;
    leaseMs: number;
    pollMs: number;
    maxAttempts: number;
    retryBaseMs: number;
  };
  /** The outbox's worker (purges, events) and the expiry sweep. */
  tasks: {
    /** Tasks this instance runs at once; 0 runs no task worker here. */
    concurrency: number;
    pollMs: number;
    leaseMs: number;
    retryBaseMs: number;
    retryCapMs: number;
  };
  redisUrl?: string;
  logLevel: string;
  /** How long the service works on a unary or client-stream call once its request is in (a stream: since its last message); then Unavailable. */
  callTimeoutMs: number;
  shutdownTimeoutMs: number;
  shutdownDrainDelayMs: number;
  healthIntervalMs: number;
  otlpEndpoint?: string;
  /** Bearer token /metrics requires; open when unset. */
  metricsToken?: string;
  events: {
    /** RabbitMQ: the event sink, and how instances tell each other's watchers; none: an in-process bus. */
    rabbitmq?: { url: string; exchange: string };
    webhooks?: { urls: string[]; secret: string; maxAttempts: number };
    /** How long a WatchFiles stream may stay silent before a heartbeat. */
    heartbeatMs: number;
  };
  /** Malware scanning; none: files are served unscanned (scan status NOT_SCANNED). */
  scanning?: {
    clamdUrl: string;
    streamMaxBytes: number;
    /** Quarantined bytes go to this bucket (S3); else to quarantine/<id>/ in the files' bucket. */
    quarantineBucket?: string;
    /** Serve files whose scan has not concluded (off: fail closed). */
    allowUnscanned: boolean;
  };
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
  const dataDir = resolve(e.DATA_DIR);
  const devDir = join(dataDir, "dev");
  return {
    host: e.HOST,
    grpcPort: e.GRPC_PORT,
    httpPort: e.HTTP_PORT,
    dataDir,
    database: e.DATABASE_URL
      ? { kind: "mysql", url: e.DATABASE_URL, queryTimeoutMs: e.DB_QUERY_TIMEOUT_MS }
      : { kind: "sqlite", file: join(dataDir, "files.db"), queryTimeoutMs: e.DB_QUERY_TIMEOUT_MS },
    objects: e.S3_BUCKET
      ? {
          kind: "s3",
          requestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
          endpoint: e.S3_ENDPOINT,
          publicEndpoint: e.S3_PUBLIC_ENDPOINT,
          region: e.S3_REGION,
          bucket: e.S3_BUCKET,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
        }
      : { kind: "local", dir: join(dataDir, "objects"), publicUrl: e.PUBLIC_URL },
    tls:
      e.TLS_CA_FILE && e.TLS_CERT_FILE && e.TLS_KEY_FILE
        ? { kind: "files", caFile: e.TLS_CA_FILE, certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE }
        : { kind: "dev", dir: join(devDir, "certs") },
    publicTls:
      e.PUBLIC_TLS_CERT_FILE && e.PUBLIC_TLS_KEY_FILE
        ? { certFile: e.PUBLIC_TLS_CERT_FILE, keyFile: e.PUBLIC_TLS_KEY_FILE }
        : undefined,
    // The dev PKI issues a certificate for "hangout".
    allowedClients: e.ALLOWED_CLIENTS.length > 0 ? e.ALLOWED_CLIENTS : ["hangout"],
    jwt:
      e.JWT_ISSUER && e.JWT_AUDIENCE
        ? {
            kind: "keys",
            secret: e.JWT_SECRET,
            jwksUrl: e.JWT_JWKS_URL,
            algorithms:
              e.JWT_ALGORITHMS.length > 0 ? e.JWT_ALGORITHMS : e.JWT_SECRET !== undefined ? ["HS256"] : ["RS256", "ES256"],
            issuer: e.JWT_ISSUER,
            audience: e.JWT_AUDIENCE,
          }
        : { kind: "dev", dir: devDir },
    // Zero-setup (dev JWT): a web app on a local dev server works without a setting.
    corsOrigins: e.CORS_ORIGINS.length > 0 || (e.JWT_ISSUER && e.JWT_AUDIENCE) ? e.CORS_ORIGINS : [...LOCAL_DEV_ORIGINS],
    http2MaxConcurrentStreams: e.HTTP2_MAX_CONCURRENT_STREAMS,
    limits: {
      maxFilesPerBatch: e.MAX_FILES_PER_BATCH,
      maxFileSizeBytes: e.MAX_FILE_SIZE_BYTES,
      maxCoverPhotoSizeBytes: e.MAX_COVER_PHOTO_SIZE_BYTES,
      uploadUrlTtlSeconds: e.UPLOAD_URL_TTL_SECONDS,
      downloadUrlTtlSeconds: e.DOWNLOAD_URL_TTL_SECONDS,
      uploadExpiryGraceSeconds: e.UPLOAD_EXPIRY_GRACE_SECONDS,
      idempotencyWindowSeconds: e.IDEMPOTENCY_WINDOW_SECONDS,
      uploadTmpDir: resolve(e.UPLOAD_TMP_DIR ?? join(tmpdir(), "file-service-uploads")),
    },
    images: { webpQuality: e.WEBP_QUALITY, maxPixels: e.MAX_IMAGE_PIXELS },
    processing: {
      concurrency: e.PROCESSING_CONCURRENCY,
      leaseMs: e.PROCESSING_LEASE_MS,
      pollMs: e.PROCESSING_POLL_MS,
      maxAttempts: e.PROCESSING_MAX_ATTEMPTS,
      retryBaseMs: e.PROCESSING_RETRY_BASE_MS,
    },
    tasks: {
      concurrency: e.TASK_CONCURRENCY,
      pollMs: e.TASK_POLL_MS,
      leaseMs: e.TASK_LEASE_MS,
      retryBaseMs: e.TASK_RETRY_BASE_MS,
      retryCapMs: e.TASK_RETRY_CAP_MS,
    },
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    callTimeoutMs: e.CALL_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
    healthIntervalMs: e.HEALTH_INTERVAL_MS,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    metricsToken: e.METRICS_TOKEN,
    events: {
      rabbitmq: e.RABBITMQ_URL ? { url: e.RABBITMQ_URL, exchange: e.RABBITMQ_EXCHANGE } : undefined,
      webhooks:
        e.WEBHOOK_URLS.length > 0 && e.WEBHOOK_SECRET
          ? { urls: e.WEBHOOK_URLS, secret: e.WEBHOOK_SECRET, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS }
          : undefined,
      heartbeatMs: e.WATCH_HEARTBEAT_MS,
    },
    scanning: e.CLAMD_URL
      ? {
          clamdUrl: e.CLAMD_URL,
          streamMaxBytes: e.CLAMD_STREAM_MAX_BYTES,
          quarantineBucket: e.QUARANTINE_BUCKET,
          allowUnscanned: e.SCAN_ALLOW_UNSCANNED,
        }
      : undefined,
  };
}

/** Which parts run on embedded backends, for the start-up banner. */
export function embeddedParts(config: Config): string[] {
  return [
    config.database.kind === "sqlite" && "database (SQLite)",
    config.objects.kind === "local" && "object store (local disk)",
    config.tls.kind === "dev" && "TLS (dev PKI)",
    config.jwt.kind === "dev" && "JWT (dev secret)",
  ].filter((s): s is string => typeof s === "string");
}
