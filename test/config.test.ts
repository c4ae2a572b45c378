import { join } from "node:path";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, embeddedParts, loadConfig } from "../src/config.js";

const valid = {
  DATABASE_URL: "mysql://files:pw@db:3306/files",
  S3_BUCKET: "files",
  TLS_CA_FILE: "ca.pem",
  TLS_CERT_FILE: "server.pem",
  TLS_KEY_FILE: "server-key.pem",
  ALLOWED_CLIENTS: "hangout, billing",
  JWT_SECRET: "a-secret-that-is-at-least-32-bytes-long",
  JWT_ISSUER: "https://auth.example.com",
  JWT_AUDIENCE: "file-service",
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe("loadConfig", () => {
  it("applies defaults", () => {
    const config = loadConfig(valid);
    expect(config.grpcPort).toBe(9001);
    expect(config.httpPort).toBe(8080);
    expect(config.allowedClients).toEqual(["hangout", "billing"]);
    expect(config.limits).toEqual({
      maxFilesPerBatch: 10,
      maxFileSizeBytes: 10 * 1024 * 1024,
      maxCoverPhotoSizeBytes: 20 * 1024 * 1024,
      uploadUrlTtlSeconds: 900,
      downloadUrlTtlSeconds: 300,
      uploadExpiryGraceSeconds: 3600,
      idempotencyWindowSeconds: 86_400,
      uploadTmpDir: join(tmpdir(), "file-service-uploads"),
    });
    expect(config.tasks).toEqual({ concurrency: 8, pollMs: 1000, leaseMs: 60_000, retryBaseMs: 1000, retryCapMs: 60_000 });
    expect(config.images).toEqual({ webpQuality: 82, maxPixels: 50_000_000 });
    expect(config.processing.concurrency).toBe(1);
    expect(config.redisUrl).toBeUndefined();
    expect(config.jwt).toMatchObject({ kind: "keys", algorithms: ["HS256"] });
    expect(config.database).toEqual({ kind: "mysql", url: valid.DATABASE_URL, queryTimeoutMs: 5000 });
    expect(config.objects).toMatchObject({ requestTimeoutMs: 10_000 });
    expect(config.callTimeoutMs).toBe(30_000);
    expect(config.objects).toMatchObject({ kind: "s3", bucket: "files" });
    expect(config.tls).toMatchObject({ kind: "files" });
  });

  it("runs every part on embedded defaults when nothing is set", () => {
    const config = loadConfig({ DATA_DIR: "/srv/fs" });
    expect(config.database).toEqual({ kind: "sqlite", file: "/srv/fs/files.db", queryTimeoutMs: 5000 });
    expect(config.objects).toEqual({ kind: "local", dir: "/srv/fs/objects", publicUrl: undefined });
    expect(config.tls).toEqual({ kind: "dev", dir: "/srv/fs/dev/certs" });
    expect(config.jwt).toEqual({ kind: "dev", dir: "/srv/fs/dev" });
    expect(config.allowedClients).toEqual(["hangout"]);
    expect(embeddedParts(config)).toHaveLength(4);
  });

  it("switches each part to production by its own settings", () => {
    const config = loadConfig({ DATABASE_URL: valid.DATABASE_URL });
    expect(config.database.kind).toBe("mysql");
    expect(embeddedParts(config)).toEqual(["object store (local disk)", "TLS (dev PKI)", "JWT (dev secret)"]);
  });

  it("names what a partly configured part is missing", () => {
    expect(problems({ S3_ENDPOINT: "http://s3:4566" })).toEqual([
      "S3_BUCKET: is required when other S3_ settings are given (without S3 settings, files go to local disk)",
    ]);
    expect(problems({ TLS_CA_FILE: "ca.pem" })).toEqual([
      "TLS_CERT_FILE: is required when any TLS_ file is given (without them, a dev PKI is created)",
      "TLS_KEY_FILE: is required when any TLS_ file is given (without them, a dev PKI is created)",
      "ALLOWED_CLIENTS: must name at least one client service",
    ]);
    expect(problems({ JWT_SECRET: valid.JWT_SECRET })).toEqual([
      "JWT_ISSUER: is required when JWT settings are given (without them, a dev secret is created)",
      "JWT_AUDIENCE: is required when JWT settings are given (without them, a dev secret is created)",
    ]);
  });

  it("refuses embedded backends in production, naming the settings to give", () => {
    expect(problems({ NODE_ENV: "production", DATABASE_URL: valid.DATABASE_URL })).toEqual([
      "NODE_ENV: production refuses embedded backends; set S3_BUCKET (else local disk); TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE (else a dev PKI); JWT_SECRET or JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE (else a dev secret)",
    ]);
    expect(problems({ ...valid, NODE_ENV: "production" })).toEqual([]);
  });

  it("explains bad values without echoing secrets", () => {
    const found = problems({
      ...valid,
      GRPC_PORT: "70000",
      JWT_SECRET: "short-secret",
      S3_FORCE_PATH_STYLE: "maybe",
      UPLOAD_URL_TTL_SECONDS: "604801",
      CALL_TIMEOUT_MS: "0",
    });
    expect(found).toContain("GRPC_PORT: must be a whole number from 0 to 65535");
    expect(found).toContain("JWT_SECRET: must be at least 32 bytes (HS256 needs a key as long as its hash)");
    expect(found).toContain("UPLOAD_URL_TTL_SECONDS: must be a whole number from 1 to 604800");
    expect(found).toContain("CALL_TIMEOUT_MS: must be a whole number from 100 to 3600000");
    expect(found.some((p) => p.startsWith("S3_FORCE_PATH_STYLE"))).toBe(true);
    expect(found.join("\n")).not.toContain("short-secret");
  });

  it("wants exactly one source of JWT keys, and never alg none", () => {
    expect(problems({ ...valid, JWT_JWKS_URL: "https://auth.example.com/jwks" })).toEqual([
      "JWT_SECRET: set exactly one of JWT_SECRET or JWT_JWKS_URL",
    ]);
    expect(problems({ ...valid, JWT_SECRET: "", JWT_JWKS_URL: "https://a/jwks", JWT_ALGORITHMS: "RS256,none" })).toEqual([
      "JWT_ALGORITHMS: 'none' is never accepted",
    ]);
    expect(problems({ ...valid, JWT_ALGORITHMS: "RS256" })).toEqual([
      "JWT_ALGORITHMS: with JWT_SECRET only HS256 is possible",
    ]);
  });

  it("checks the event settings, never echoing the broker's password or the webhook secret", () => {
    const found = problems({
      ...valid,
      RABBITMQ_URL: "http://guest:hunter2@broker:5672",
      WEBHOOK_URLS: "https://hooks.example.com/files,not a url",
      WEBHOOK_SECRET: "hunter3",
    });
    expect(found).toEqual([
      "RABBITMQ_URL: must be an amqp:// or amqps:// URL",
      expect.stringMatching(/^WEBHOOK_URLS\.1: must be comma-separated http\(s\) URLs/),
      "WEBHOOK_SECRET: must be a Standard Webhooks secret: whsec_ followed by base64",
    ]);
    expect(found.join("\n")).not.toMatch(/hunter/);
    expect(problems({ ...valid, WEBHOOK_URLS: "https://hooks.example.com/files" })).toEqual([
      "WEBHOOK_SECRET: is required with WEBHOOK_URLS (events are signed; e.g. whsec_ and 24+ random bytes in base64)",
    ]);
    const events = loadConfig({ ...valid, RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:5672" }).events;
    expect(events).toEqual({ rabbitmq: { url: "amqp://guest:guest@127.0.0.1:5672", exchange: "file.events" }, webhooks: undefined, heartbeatMs: 15_000 });
  });
});
