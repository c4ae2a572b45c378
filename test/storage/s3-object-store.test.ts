// S3 adapter against a real s3rver over real HTTP. s3rver checks neither SigV4
// signatures nor Content-MD5, so signatures are verified here (verifyPresignedSignature),
// and a recording proxy shows which requests the adapter actually sends.

import { createHash, createHmac } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DependencyUnavailableError } from "../../src/errors.js";
import type { ObjectStore, PresignedRequest } from "../../src/storage/object-store.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { startS3Server } from "../support/s3-server.js";
import type { S3Server } from "../support/s3-server.js";

let server: S3Server;
const stores: ObjectStore[] = [];

beforeAll(async () => {
  server = await startS3Server({ bucket: "files-test" });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function makeStore(overrides: { endpoint?: string; publicEndpoint?: string; bucket?: string } = {}): ObjectStore {
  const store = createS3ObjectStore({
    bucket: overrides.bucket ?? server.bucket,
    region: "us-east-1",
    endpoint: overrides.endpoint ?? server.endpoint,
    publicEndpoint: overrides.publicEndpoint,
    forcePathStyle: true,
  });
  stores.push(store);
  return store;
}

const md5Base64 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("base64");

async function upload(store: ObjectStore, key: string, bytes: Uint8Array, contentType = "application/octet-stream") {
  const presigned = await store.presignPut({
    key,
    contentType,
    contentLength: bytes.length,
    contentMd5: md5Base64(bytes),
    expiresInSeconds: 300,
  });
  const response = await fetch(presigned.url, { method: "PUT", headers: presigned.headers, body: bytes });
  expect(response.status, await response.text()).toBe(200);
  return presigned;
}

describe("presignPut", () => {
  it("returns a URL that stores the bytes when sent with exactly the returned headers", async () => {
    const store = makeStore();
    const bytes = new TextEncoder().encode("hello, object store");
    const presigned = await upload(store, "uploads/hello.txt", bytes, "text/plain");

    expect(presigned.headers).toEqual({
      "Content-Type": "text/plain",
      "Content-Length": String(bytes.length),
      "Content-MD5": md5Base64(bytes),
      "x-amz-server-side-encryption": "AES256",
    });
    expect(verifyPresignedSignature("PUT", presigned)).toBe(true);
    expect(await store.head("uploads/hello.txt")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
  });

  it("signs the upload headers, keeps SSE out of the query and adds no checksum", async () => {
    const store = makeStore();
    const before = Date.now();
    const presigned = await store.presignPut({
      key: "uploads/shape.bin",
      contentType: "image/png",
      contentLength: 1234,
      contentMd5: md5Base64(new Uint8Array(1234)),
      expiresInSeconds: 300,
    });
    const query = new URL(presigned.url).searchParams;
    const signedHeaders = query.get("X-Amz-SignedHeaders");

    expect(signedHeaders).toBe("content-length;content-md5;content-type;host;x-amz-server-side-encryption");
    // Everything signed except host is something the uploader is told to send.
    expect(signedHeaders?.split(";").filter((name) => name !== "host")).toEqual(
      Object.keys(presigned.headers).map((name) => name.toLowerCase()).sort(),
    );
    const paramNames = [...query.keys()].map((name) => name.toLowerCase());
    expect(paramNames.filter((name) => name.includes("checksum"))).toEqual([]);
    expect(paramNames).not.toContain("x-amz-server-side-encryption");
    expect(query.get("X-Amz-Expires")).toBe("300");

    const signedAt = parseAmzDate(query.get("X-Amz-Date"));
    expect(presigned.expiresAt.getTime()).toBe(signedAt + 300_000);
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    // The signature check is meaningful: it rejects a header value the uploader changed.
    expect(verifyPresignedSignature("PUT", presigned)).toBe(true);
    const tampered = { ...presigned, headers: { ...presigned.headers, "Content-Type": "text/html" } };
    expect(verifyPresignedSignature("PUT", tampered)).toBe(false);
  });
});

describe("presignGet", () => {
  it("serves the bytes with the Content-Disposition and Content-Type asked for", async () => {
    const store = makeStore();
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252]);
    await upload(store, "downloads/data.bin", bytes, "application/octet-stream");

    const presigned = await store.presignGet({
      key: "downloads/data.bin",
      expiresInSeconds: 60,
      contentDisposition: 'attachment; filename="report.csv"',
      contentType: "text/csv",
    });
    expect(presigned.headers).toEqual({});
    expect(verifyPresignedSignature("GET", presigned)).toBe(true);
    expect(new URL(presigned.url).searchParams.get("X-Amz-Expires")).toBe("60");

    const response = await fetch(presigned.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="report.csv"');
    expect(response.headers.get("content-type")).toBe("text/csv");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });
});

describe("head", () => {
  it("returns null for a missing key", async () => {
    expect(await makeStore().head("no/such/key")).toBeNull();
  });

  it("reports a null md5 for a multipart ETag", async () => {
    // s3rver gives multipart uploads a plain MD5 ETag, so a proxy rewrites it the way S3 does.
    const bytes = new TextEncoder().encode("multipart");
    await upload(makeStore(), "multipart.bin", bytes);
    const proxy = await startRecordingProxy(server.endpoint, (headers) => ({
      ...headers,
      etag: `"${createHash("md5").update("parts").digest("hex")}-2"`,
    }));
    try {
      expect(await makeStore({ endpoint: proxy.endpoint }).head("multipart.bin")).toEqual({
        size: bytes.length,
        md5: null,
      });
    } finally {
      await proxy.close();
    }
  });
});

describe("delete", () => {
  it("removes the objects and ignores missing keys", async () => {
    const store = makeStore();
    await upload(store, "trash/a", new Uint8Array([1]));
    await upload(store, "trash/b", new Uint8Array([2]));

    expect(await store.delete(["trash/a", "trash/b", "trash/never-existed"])).toEqual([]);
    expect(await store.head("trash/a")).toBeNull();
    expect(await store.head("trash/b")).toBeNull();
  });

  it("sends quiet batches of at most 1000 keys, and nothing for no keys", async () => {
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      const store = makeStore({ endpoint: proxy.endpoint });
      expect(await store.delete([])).toEqual([]);
      expect(proxy.requests).toEqual([]);

      const keys = Array.from({ length: 1001 }, (_, i) => `batch/${i}`);
      expect(await store.delete(keys)).toEqual([]);
      const batches = proxy.requests.filter((r) => r.method === "POST" && r.url.includes("delete"));
      expect(batches.map((r) => r.body.match(/<Key>/g)?.length)).toEqual([1000, 1]);
      for (const batch of batches) expect(batch.body).toContain("<Quiet>true</Quiet>");
    } finally {
      await proxy.close();
    }
  });
});

describe("publicEndpoint", () => {
  it("is the host of presigned URLs while HEAD goes to endpoint", async () => {
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      // endpoint: the proxy (the service's own route); publicEndpoint: s3rver directly.
      const store = makeStore({ endpoint: proxy.endpoint, publicEndpoint: server.endpoint });
      const bytes = new TextEncoder().encode("public");
      const presigned = await upload(store, "public/a.txt", bytes);
      expect(new URL(presigned.url).origin).toBe(server.endpoint);
      const get = await store.presignGet({
        key: "public/a.txt",
        expiresInSeconds: 60,
        contentDisposition: "inline",
        contentType: "text/plain",
      });
      expect(new URL(get.url).origin).toBe(server.endpoint);
      expect(proxy.requests).toEqual([]); // the upload did not go through the service's route

      expect(await store.head("public/a.txt")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
      expect(proxy.requests.map((r) => r.method)).toEqual(["HEAD"]);
    } finally {
      await proxy.close();
    }
  });
});

describe("when S3 is unreachable", () => {
  it("fails fast with DependencyUnavailableError", async () => {
    const store = makeStore({ endpoint: `http://127.0.0.1:${await closedPort()}` });
    for (const call of [() => store.head("k"), () => store.ping(), () => store.delete(["k"])]) {
      const started = Date.now();
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as DependencyUnavailableError).dependency).toBe("object store");
      expect((error as Error).message).not.toContain(process.env.AWS_SECRET_ACCESS_KEY ?? "S3RVER");
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });

  it("still presigns (no network), and ping fails for a missing bucket", async () => {
    const store = makeStore({ endpoint: `http://127.0.0.1:${await closedPort()}` });
    await expect(
      store.presignGet({ key: "k", expiresInSeconds: 60, contentDisposition: "inline", contentType: "text/plain" }),
    ).resolves.toMatchObject({ url: expect.stringContaining("/files-test/k?") });

    await expect(makeStore().ping()).resolves.toBeUndefined();
    await expect(makeStore({ bucket: "no-such-bucket" }).ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
  });
});

// --- helpers ---

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function parseAmzDate(value: string | null): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  if (!match) throw new Error(`bad X-Amz-Date: ${value}`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}

interface RecordedRequest {
  method: string;
  url: string;
  body: string;
}

/** Forwards to `target` and records each request; may rewrite response headers. */
async function startRecordingProxy(
  target: string,
  rewriteResponseHeaders: (headers: IncomingHttpHeaders) => IncomingHttpHeaders = (headers) => headers,
): Promise<{ endpoint: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requests.push({ method: req.method ?? "", url: req.url ?? "", body: body.toString("utf8") });
    const upstream = httpRequest(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, rewriteResponseHeaders(up.headers));
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

/** Recomputes a presigned URL's SigV4 signature from the headers the client is told to send. */
function verifyPresignedSignature(method: string, presigned: PresignedRequest): boolean {
  const secret = process.env.AWS_SECRET_ACCESS_KEY ?? "";
  const url = new URL(presigned.url);
  const query = url.searchParams;
  const encode = (value: string) =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

  const headers = new Map(Object.entries(presigned.headers).map(([name, value]) => [name.toLowerCase(), value.trim()]));
  headers.set("host", url.host);
  const signedHeaders = (query.get("X-Amz-SignedHeaders") ?? "").split(";");
  const canonicalQuery = [...query.entries()]
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    method,
    url.pathname,
    canonicalQuery,
    signedHeaders.map((name) => `${name}:${headers.get(name) ?? ""}\n`).join(""),
    signedHeaders.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");

  const amzDate = query.get("X-Amz-Date") ?? "";
  const scope = (query.get("X-Amz-Credential") ?? "").split("/").slice(1);
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope.join("/"),
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const signingKey = scope
    .slice(0, 4)
    .reduce<Buffer | string>((key, part) => createHmac("sha256", key).update(part).digest(), `AWS4${secret}`);
  return createHmac("sha256", signingKey).update(stringToSign).digest("hex") === query.get("X-Amz-Signature");
}
