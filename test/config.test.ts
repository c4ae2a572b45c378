import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

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
      uploadUrlTtlSeconds: 900,
      downloadUrlTtlSeconds: 900,
    });
    expect(config.jwt.algorithms).toEqual(["HS256"]);
  });

  it("names every missing setting at once", () => {
    expect(problems({}).map((p) => p.split(":")[0])).toEqual(
      expect.arrayContaining([
        "DATABASE_URL",
        "S3_BUCKET",
        "TLS_CA_FILE",
        "TLS_CERT_FILE",
        "TLS_KEY_FILE",
        "ALLOWED_CLIENTS",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_SECRET",
      ]),
    );
  });

  it("explains bad values without echoing secrets", () => {
    const found = problems({
      ...valid,
      GRPC_PORT: "70000",
      JWT_SECRET: "short-secret",
      S3_FORCE_PATH_STYLE: "maybe",
      UPLOAD_URL_TTL_SECONDS: "604801",
    });
    expect(found).toContain("GRPC_PORT: must be a whole number from 0 to 65535");
    expect(found).toContain("JWT_SECRET: must be at least 32 bytes (HS256 needs a key as long as its hash)");
    expect(found).toContain("UPLOAD_URL_TTL_SECONDS: must be a whole number from 1 to 604800");
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
});
