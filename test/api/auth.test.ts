// Every RPC knows who is calling and what it may touch:
//  - internal listener: only services with a client certificate from our CA,
//    and only those in ALLOWED_CLIENTS;
//  - public listener: only users with a valid JWT, and only their own files.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { ConfirmFailureCode, FileService } from "../../gen/file/v1/file_service_pb.js";
import { CORS_ORIGIN, JWT_AUDIENCE, JWT_ISSUER, startTestService, type TestService } from "../support/service.js";
import { fileSpec, pngLikeBytes, putUpload } from "../support/upload.js";
import { codeOf, rpcError } from "../support/rpc.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.stop();
});

const bytes = pngLikeBytes(32);

describe("internal listener: mutual TLS", () => {
  /** Tries a write with the given client TLS settings; returns the error. */
  async function writeWith(tls: { cert?: string; key?: string }) {
    const sessionManager = new Http2SessionManager(svc.grpcUrl, undefined, { ca: svc.pki.ca, ...tls });
    const client = createClient(FileService, createGrpcTransport({ baseUrl: svc.grpcUrl, sessionManager }));
    try {
      return await rpcError(client.generateUploadURLs({ ownerId: "tls-intruder", files: [fileSpec(bytes)] }));
    } finally {
      sessionManager.abort();
    }
  }

  async function intruderRows() {
    return (await svc.files.list({ ownerId: "tls-intruder", statuses: ["pending"], limit: 10 })).length;
  }

  // The TLS layer refuses these before HTTP/2 starts, so callers see a transport
  // error (a missing certificate gets an alert; a foreign one a closed socket).
  const TRANSPORT_FAILURES = [Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled];

  it("refuses a caller without a client certificate before any handler runs", async () => {
    expect(TRANSPORT_FAILURES).toContain((await writeWith({})).code);
    expect(await intruderRows()).toBe(0);
  });

  it("refuses a certificate from another CA, even with an allowed name", async () => {
    expect(TRANSPORT_FAILURES).toContain((await writeWith({ cert: svc.pki.foreign.cert, key: svc.pki.foreign.key })).code);
    expect(await intruderRows()).toBe(0);
  });

  it("refuses a certificate of ours whose service is not in ALLOWED_CLIENTS", async () => {
    const error = await rpcError(svc.serviceClient(svc.pki.rogue).listFiles({ ownerId: "tls-owner" }));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toContain("is not allowed to call this service");
  });

  it("lets an allowed service act for the owner it names", async () => {
    const { files } = await svc.serviceClient().listFiles({ ownerId: "tls-owner" });
    expect(files).toEqual([]);
  });
});

describe("public listener: JWT", () => {
  const secret = new TextEncoder().encode("test-secret-of-at-least-32-bytes!!");
  const now = Math.floor(Date.now() / 1000);

  function token(edit: (jwt: SignJWT) => SignJWT, key: Uint8Array = secret) {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("5m");
    return edit(jwt).sign(key);
  }

  const unsigned = (claims: object) =>
    `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;

  const refusals: Array<[string, () => Promise<string | undefined>, RegExp]> = [
    ["no token", async () => undefined, /missing Authorization: Bearer/],
    ["an expired token", () => token((j) => j.setIssuedAt(now - 3600).setExpirationTime(now - 600)), /invalid token: expired/],
    ["a token for another audience", () => token((j) => j.setAudience("other-service")), /aud/],
    ["a token from another issuer", () => token((j) => j.setIssuer("https://evil.test")), /iss/],
    ["a token signed with another key", () => token((j) => j, new TextEncoder().encode("another-secret-of-at-least-32-bytes")), /signature/],
    [
      "an alg:none token",
      async () => unsigned({ sub: "alice", iss: JWT_ISSUER, aud: JWT_AUDIENCE, exp: now + 300 }),
      /invalid token/,
    ],
    ["a token without sub", () => token((j) => j.setSubject("")), /sub/],
    ["a token not yet valid", () => token((j) => j.setNotBefore(now + 3600)), /nbf/],
  ];

  for (const [name, make, message] of refusals) {
    it(`refuses ${name} with Unauthenticated`, async () => {
      const error = await rpcError(svc.userClient(await make()).listFiles({}));
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toMatch(message);
    });
  }

  it("refuses a malformed Authorization header", async () => {
    const res = await fetch(`${svc.httpUrl}/file.v1.FileService/ListFiles`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Basic YWxpY2U6cHc=" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      code: "unauthenticated",
      message: "the Authorization header must be 'Bearer <token>'",
    });
  });

  it("lets a user act only on its own files", async () => {
    const alice = svc.userClient(await svc.userToken("alice"));
    const bob = svc.userClient(await svc.userToken("bob"));

    // owner_id may be left empty (it defaults to the token's subject) or be the subject.
    const { uploads } = await alice.generateUploadURLs({ files: [fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);
    const fileId = uploads[0]!.fileId;
    expect((await alice.confirmUpload({ ownerId: "alice", fileIds: [fileId] })).files[0]?.ownerId).toBe("alice");

    // Acting for someone else is refused outright.
    const impersonation = await rpcError(bob.listFiles({ ownerId: "alice" }));
    expect(impersonation.code).toBe(Code.PermissionDenied);
    expect(impersonation.rawMessage).toContain("owner_id: a user may act only on its own files");

    // Another user's file is indistinguishable from a missing one.
    expect(await codeOf(bob.getFile({ fileId }))).toBe(Code.NotFound);
    expect(await codeOf(bob.getDownloadURLs({ fileIds: [fileId] }))).toBe(Code.NotFound);
    expect(await codeOf(bob.deleteFile({ fileId }))).toBe(Code.NotFound);
    expect((await bob.batchGetFiles({ fileIds: [fileId] })).notFoundIds).toEqual([fileId]);
    expect((await bob.batchDeleteFiles({ fileIds: [fileId] })).failedIds).toEqual([fileId]);
    expect((await bob.confirmUpload({ fileIds: [fileId] })).failures[0]?.code).toBe(ConfirmFailureCode.NOT_FOUND);
    expect((await bob.listFiles({})).files).toEqual([]);

    // Nothing bob did touched alice's file.
    const still = await alice.getFile({ fileId });
    expect(still.file?.status).toBe(2 /* UPLOADED */);
    const { urls } = await alice.getDownloadURLs({ fileIds: [fileId] });
    expect((await fetch(urls[0]!.url)).status).toBe(200);

    // A service acting for alice sees the same file.
    expect((await svc.serviceClient().getFile({ ownerId: "alice", fileId })).file?.id).toBe(fileId);
  });

  it("answers CORS preflights for configured origins only, allowing Authorization", async () => {
    const preflight = (origin: string) =>
      fetch(`${svc.httpUrl}/file.v1.FileService/GetFile`, {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization,content-type,connect-protocol-version",
        },
      });
    const allowed = await preflight(CORS_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(CORS_ORIGIN);
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(allowed.headers.get("access-control-allow-methods")).toContain("POST");

    const other = await preflight("https://evil.test");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const actual = await fetch(`${svc.httpUrl}/file.v1.FileService/ListFiles`, {
      method: "POST",
      headers: { Origin: CORS_ORIGIN, "Content-Type": "application/json", Authorization: `Bearer ${await svc.userToken("carol")}` },
      body: "{}",
    });
    expect(actual.status).toBe(200);
    expect(actual.headers.get("access-control-allow-origin")).toBe(CORS_ORIGIN);
    expect(actual.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("grpc-status");
  });

  it("lets anyone ask for health, on both listeners", async () => {
    const res = await fetch(`${svc.httpUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(await res.json()).toEqual({ status: "SERVING" });
  });
});

describe("public listener with a JWKS URL", () => {
  let jwksServer: Server;
  let jwksHits = 0;
  let jwksSvc: TestService;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    jwksServer = createServer((_req, res) => {
      jwksHits++;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const port = (jwksServer.address() as AddressInfo).port;
    jwksSvc = await startTestService({
      db: svc.db,
      s3: svc.s3,
      pki: svc.pki,
      env: { JWT_SECRET: "", JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` },
    });
  });
  afterAll(async () => {
    await jwksSvc?.stop();
    jwksServer?.close();
  });

  const rs256 = (sub: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject(sub)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setExpirationTime("5m")
      .sign(privateKey);

  it("verifies tokens against the key set, fetching it once rather than per request", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await jwksSvc.userClient(await rs256("dave")).listFiles({})).files).toEqual([]);
    }
    expect(jwksHits).toBe(1);
  });

  it("refuses an HS256 token: algorithms are pinned, never taken from the token", async () => {
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setSubject("dave")
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("test-secret-of-at-least-32-bytes!!"));
    expect(await codeOf(jwksSvc.userClient(hs).listFiles({}))).toBe(Code.Unauthenticated);
  });
});
