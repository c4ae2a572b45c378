// The local-disk object store as its clients meet it: presigned URLs served by
// a real Fastify server on 127.0.0.1, driven with fetch, node:http and raw
// sockets (for what fetch refuses to send). Every refusal also checks the disk:
// nothing stored, no temp file, nothing touched outside the data folder.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fastify, LogController, type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { createLocalObjectStore, type LocalObjectStore, type UploadResult } from "../../src/storage/local/local-object-store.js";
import type { PresignedRequest } from "../../src/storage/object-store.js";
import {
  createUrlSigner,
  EXPIRES_PARAM,
  RESPONSE_DISPOSITION_PARAM,
  RESPONSE_TYPE_PARAM,
  SIGNATURE_PARAM,
} from "../../src/storage/local/url-signer.js";
import { objectRoutes } from "../../src/transport/object-routes.js";
import { httpErrorOfRefusal, type HttpObjectError } from "../../src/transport/object-errors.js";
import type { ObjectRefusal } from "../../src/storage/local/object-refusal.js";
import { chunksOf, streamInput } from "../support/upload.js";
import { describeListing } from "./listing-contract.js";

const SECRET = "test-secret-of-at-least-32-bytes!!";
const CANARY = "canary: must never be read or overwritten\n";

interface Harness {
  /** Holds the data folder and, next to it, canary.txt. */
  base: string;
  dataDir: string;
  port: number;
  origin: string;
  store: LocalObjectStore;
  /** What the route made of each upload: accepted, or refused with its HTTP status. */
  uploadVerdicts(): Promise<Array<UploadResult | ({ ok: false } & HttpObjectError)>>;
  /** Every file and folder under `base`, relative and sorted. */
  tree(): Promise<string[]>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(): Promise<Harness> {
  const base = await mkdtemp(join(tmpdir(), "local-store-"));
  const dataDir = join(base, "data");
  await writeFile(join(base, "canary.txt"), CANARY);
  // Listen first: the store's publicUrl needs the port, and the plugin needs the store.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const store = await createLocalObjectStore({ dir: dataDir, publicUrl: origin, secret: SECRET });
  const app: FastifyInstance = fastify({
    serverFactory: (handler) => server.on("request", handler),
  }) as unknown as FastifyInstance;
  // The route's view of the store, recorded: a sync point for uploads the client cut off.
  const verdicts: Array<Promise<UploadResult | ({ ok: false } & HttpObjectError)>> = [];
  const recorded: LocalObjectStore = {
    ...store,
    acceptUpload: (request) => {
      const verdict = store.acceptUpload(request);
      // As the route answers it: with the HTTP status of a refusal.
      verdicts.push(verdict.then((v) => (v.ok ? v : { ...v, ...httpErrorOfRefusal(v) })));
      return verdict;
    },
  };
  await app.register(objectRoutes(recorded));
  await app.ready();
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
    store.close();
    await rm(base, { recursive: true, force: true });
  });
  const tree = async () => ((await readdir(base, { recursive: true })) as string[]).sort();
  const uploadVerdicts = () => Promise.all(verdicts);
  return { base, dataDir, port, origin, store, uploadVerdicts, tree };
}

const md5Base64 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("base64");
const md5Hex = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");
const newKey = (): string => `files/${randomUUID()}/original`;
const bytesOf = (text: string): Buffer => Buffer.from(text, "utf8");

function presignPut(store: LocalObjectStore, key: string, bytes: Uint8Array, contentType = "image/png") {
  return store.presignPut({ key, contentType, contentLength: bytes.length, contentMd5: md5Base64(bytes), expiresInSeconds: 300 });
}

async function put(presigned: PresignedRequest, body: Uint8Array, headers = presigned.headers): Promise<Response> {
  return fetch(presigned.url, { method: "PUT", headers, body });
}

async function upload(store: LocalObjectStore, key: string, bytes: Uint8Array, contentType = "image/png") {
  const presigned = await presignPut(store, key, bytes, contentType);
  const response = await put(presigned, bytes);
  expect(response.status, await response.text()).toBe(200);
  return presigned;
}

function presignGet(store: LocalObjectStore, key: string) {
  return store.presignGet({
    key,
    expiresInSeconds: 60,
    contentDisposition: 'attachment; filename="holiday photo.png"',
    contentType: "image/png",
  });
}

/** The tree a stored key leaves: its folders, the object and its sidecar. */
function storedEntries(key: string): string[] {
  const [a, b, name] = key.split("/");
  return ["canary.txt", "data", `data/${a}`, `data/${a}/${b}`, `data/${a}/${b}/${name}`, `data/${a}/${b}/.${name}.meta`].sort();
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A node:http request with exactly this path and these headers (fetch would normalize or refuse them). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : Buffer.from(body));
  });
}

/** Writes `head` and `body` on a raw socket, then half-closes it, and returns what the server answered. */
function rawSocketExchange(port: number, head: string, body: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
    socket.write(head);
    socket.end(Buffer.from(body));
  });
}

async function eventually(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** A URL the store would accept for `key`, signed with the store's secret (what an attacker cannot do). */
function forgeUrl(
  origin: string,
  rawPath: string,
  signed: { method: "PUT" | "GET"; key: string; expires?: number; fields: Record<string, string> },
  extraQuery: Record<string, string> = {},
): string {
  const expires = signed.expires ?? Math.floor(Date.now() / 1000) + 300;
  const query = new URLSearchParams(extraQuery);
  query.set(EXPIRES_PARAM, String(expires));
  query.set(SIGNATURE_PARAM, createUrlSigner(SECRET).sign({ ...signed, expires }));
  return `${origin}${rawPath}?${query}`;
}

describeListing("local disk", async () => (await start()).store);

describe("presigned PUT", () => {
  it("stores the bytes; head() reports size and MD5, also from a new store on the same folder", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("hello, local object store");
    const presigned = await presignPut(h.store, key, bytes, "text/plain");

    expect(presigned.headers).toEqual({
      "Content-Type": "text/plain",
      "Content-Length": String(bytes.length),
      "Content-MD5": md5Base64(bytes),
    });
    expect(presigned.url.startsWith(`${h.origin}/objects/${key}?`)).toBe(true);
    const url = new URL(presigned.url);
    expect(presigned.expiresAt.getTime()).toBe(Number(url.searchParams.get(EXPIRES_PARAM)) * 1000);
    expect(presigned.expiresAt.getTime()).toBeGreaterThan(Date.now() + 298_000);

    const response = await put(presigned, bytes);
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${md5Hex(bytes)}"`);

    expect(await readFile(join(h.dataDir, key))).toEqual(bytes);
    expect(await h.tree()).toEqual(storedEntries(key));
    expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });

    const restarted = await createLocalObjectStore({ dir: h.dataDir, publicUrl: h.origin, secret: SECRET });
    expect(await restarted.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    expect(await restarted.head(newKey())).toBeNull();
  });

  it("overwrites an object atomically and keeps head() right when the sidecar is stale or corrupt", async () => {
    const h = await start();
    const key = newKey();
    await upload(h.store, key, bytesOf("first version"));
    const second = bytesOf("second, longer version");
    await upload(h.store, key, second);
    expect(await h.store.head(key)).toEqual({ size: second.length, md5: md5Base64(second) });
    expect(await h.tree()).toEqual(storedEntries(key));

    // The sidecar is a cache checked against the file: a lie in it is not believed.
    const sidecar = join(h.dataDir, "files", key.split("/")[1]!, ".original.meta");
    const meta = JSON.parse(await readFile(sidecar, "utf8")) as Record<string, string>;
    await writeFile(sidecar, JSON.stringify({ ...meta, ino: "1", md5: md5Base64(bytesOf("lie")) }));
    expect(await h.store.head(key)).toEqual({ size: second.length, md5: md5Base64(second) });
    await writeFile(sidecar, "{not json");
    expect(await h.store.head(key)).toEqual({ size: second.length, md5: md5Base64(second) });
    await rm(sidecar);
    expect(await h.store.head(key)).toEqual({ size: second.length, md5: md5Base64(second) });
  });

  it("accepts any content type and empty objects, and streams large bodies", async () => {
    const h = await start();
    const empty = newKey();
    await upload(h.store, empty, new Uint8Array(0), "application/pdf");
    expect(await h.store.head(empty)).toEqual({ size: 0, md5: md5Base64(new Uint8Array(0)) });

    const large = newKey();
    const bytes = Buffer.alloc(8 * 1024 * 1024 + 3, 7);
    bytes.write("not all sevens", 12345);
    await upload(h.store, large, bytes, "video/mp4");
    expect(await h.store.head(large)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
  });

  it("refuses a tampered signature, key or expiry with 403 and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("signed bytes");
    const presigned = await presignPut(h.store, key, bytes);
    const url = new URL(presigned.url);
    const signature = url.searchParams.get(SIGNATURE_PARAM)!;

    const badSignature = new URL(url);
    badSignature.searchParams.set(SIGNATURE_PARAM, (signature[0] === "A" ? "B" : "A") + signature.slice(1));
    const otherKey = newKey();
    const badKey = new URL(url);
    badKey.pathname = `/objects/${otherKey}`;
    const laterExpiry = new URL(url);
    laterExpiry.searchParams.set(EXPIRES_PARAM, String(Number(url.searchParams.get(EXPIRES_PARAM)) + 3600));
    const noSignature = new URL(url);
    noSignature.searchParams.delete(SIGNATURE_PARAM);

    for (const tampered of [badSignature, badKey, laterExpiry, noSignature]) {
      const response = await put({ ...presigned, url: tampered.href }, bytes);
      expect(response.status, tampered.href).toBe(403);
      expect(await response.text()).toMatch(/<Code>(SignatureDoesNotMatch|AccessDenied)<\/Code>/);
    }
    expect(await h.store.head(key)).toBeNull();
    expect(await h.store.head(otherKey)).toBeNull();
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("refuses headers other than the signed ones with 403 and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("<script>alert(1)</script>");
    const presigned = await presignPut(h.store, key, bytes, "image/png");

    // S3's code, with a message that names the header a developer got wrong.
    const otherType = await put(presigned, bytes, { ...presigned.headers, "Content-Type": "text/html" });
    expect(otherType.status).toBe(403);
    const otherTypeText = await otherType.text();
    expect(otherTypeText).toContain("<Code>SignatureDoesNotMatch</Code>");
    expect(otherTypeText).toContain("Content-Type is text/html, but this URL was signed for image/png");
    const otherMd5 = await put(presigned, bytes, { ...presigned.headers, "Content-MD5": md5Base64(bytesOf("other")) });
    expect(otherMd5.status).toBe(403);
    expect(await otherMd5.text()).toMatch(/Content-MD5 is \S+, but this URL was signed for \S+\./);
    const { "Content-Type": _type, ...withoutType } = presigned.headers;
    const noType = await fetch(presigned.url, { method: "PUT", headers: withoutType, body: new Blob([bytes]) });
    expect(noType.status).toBe(403);
    expect(await noType.text()).toContain("Content-Type is missing (this URL needs image/png)");
    // Other bytes of another length: the Content-Length the client sends differs.
    const longer = await fetch(presigned.url, { method: "PUT", headers: { "Content-Type": "image/png", "Content-MD5": presigned.headers["Content-MD5"]! }, body: new Blob([bytes, bytes]) });
    expect(longer.status).toBe(403);
    const longerText = await longer.text();
    expect(longerText).toContain(`Content-Length is ${bytes.length * 2}, but this URL was signed for ${bytes.length}`);
    // Never the signature itself.
    for (const text of [otherTypeText, longerText]) expect(text).not.toContain(new URL(presigned.url).searchParams.get(SIGNATURE_PARAM)!);

    expect(await h.store.head(key)).toBeNull();
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("refuses an expired URL with 403 'Request has expired'", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("too late");
    const fields = { "content-type": "image/png", "content-length": String(bytes.length), "content-md5": md5Base64(bytes) };
    const expired = forgeUrl(h.origin, `/objects/${key}`, {
      method: "PUT",
      key,
      expires: Math.floor(Date.now() / 1000) - 1,
      fields,
    });
    const headers = { "Content-Type": "image/png", "Content-Length": String(bytes.length), "Content-MD5": md5Base64(bytes) };
    const response = await fetch(expired, { method: "PUT", headers, body: bytes });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("Request has expired");
    expect(await h.tree()).toEqual(["canary.txt", "data"]);

    // The same URL with a future expiry is accepted: the refusal above was the expiry alone.
    const valid = forgeUrl(h.origin, `/objects/${key}`, { method: "PUT", key, fields });
    expect((await fetch(valid, { method: "PUT", headers, body: bytes })).status).toBe(200);
  });

  it("refuses other bytes of the signed length with 400 BadDigest and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("the declared bytes");
    const presigned = await presignPut(h.store, key, bytes);
    const other = bytesOf("other bytes, same!");
    expect(other.length).toBe(bytes.length);

    const response = await put(presigned, other);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("<Code>BadDigest</Code>");
    expect(await h.store.head(key)).toBeNull();
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("refuses a body shorter than Content-Length with 400 and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("twenty-six bytes declared.");
    const presigned = await presignPut(h.store, key, bytes);
    const { pathname, search } = new URL(presigned.url);
    const head =
      `PUT ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      Object.entries(presigned.headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") +
      "\r\n";

    // Node's HTTP parser answers the truncated request itself; the store sees a body that failed.
    const answer = await rawSocketExchange(h.port, head, bytes.subarray(0, 10));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(await h.uploadVerdicts()).toMatchObject([{ ok: false, status: 400, code: "IncompleteBody" }]);
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
    expect(await h.store.head(key)).toBeNull();
  });

  it("refuses a body longer than Content-Length with 400 and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("exactly what was signed");
    const presigned = await presignPut(h.store, key, bytes);
    const { pathname, search } = new URL(presigned.url);
    // Content-Length frames the body: the server takes the first bytes (not the
    // signed ones: BadDigest), and the surplus is a malformed next request, so Node
    // answers 400 and drops the connection (the upload may then fail IncompleteBody).
    const longer = Buffer.concat([bytesOf("X"), bytes]);
    const response = await rawRequest(h.port, "PUT", pathname + search, presigned.headers, longer);
    expect(response.status).toBe(400);
    expect(await h.uploadVerdicts()).toMatchObject([{ ok: false, status: 400 }]);
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("refuses a body over the signed length with 413 when the transport does not frame it", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("signed length");
    const presigned = await presignPut(h.store, key, bytes);
    const { pathname, search } = new URL(presigned.url);
    const result = await h.store.acceptUpload({
      target: pathname + search,
      headers: Object.fromEntries(Object.entries(presigned.headers).map(([n, v]) => [n.toLowerCase(), v])),
      body: Readable.from([bytes, bytesOf("and more")]),
    });
    expect(result.ok).toBe(false);
    expect(httpErrorOfRefusal(result as ObjectRefusal)).toMatchObject({ status: 413 });
    expect(await h.tree()).toEqual(["canary.txt", "data"]);

    // And a body that ends early is incomplete (not merely another digest).
    const short = await h.store.acceptUpload({
      target: pathname + search,
      headers: Object.fromEntries(Object.entries(presigned.headers).map(([n, v]) => [n.toLowerCase(), v])),
      body: Readable.from([bytes.subarray(0, 5)]),
    });
    expect(short.ok).toBe(false);
    expect(httpErrorOfRefusal(short as ObjectRefusal)).toMatchObject({ status: 400, code: "IncompleteBody" });
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("answers 409 when a key would need an object to be a folder", async () => {
    const h = await start();
    const id = randomUUID();
    const first = bytesOf("an object where a folder would go");
    await upload(h.store, `files/${id}`, first);
    const bytes = bytesOf("under it");
    const response = await put(await presignPut(h.store, `files/${id}/original`, bytes), bytes);
    expect(response.status).toBe(409);
    expect(await h.store.head(`files/${id}`)).toEqual({ size: first.length, md5: md5Base64(first) });
    expect((await h.tree()).filter((entry) => entry.endsWith(".tmp"))).toEqual([]);
  });

  it("answers 411 to an upload without Content-Length", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("chunked body");
    const presigned = await presignPut(h.store, key, bytes);
    const { pathname, search } = new URL(presigned.url);
    const { "Content-Length": _length, ...headers } = presigned.headers;
    const response = await rawRequest(h.port, "PUT", pathname + search, { ...headers, "Transfer-Encoding": "chunked" }, bytes);
    expect(response.status).toBe(411);
    expect(response.body).toContain("MissingContentLength");
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("leaves no file and no temp file when the client aborts mid-upload", async () => {
    const h = await start();
    const key = newKey();
    const bytes = Buffer.alloc(1024 * 1024, 1);
    const presigned = await presignPut(h.store, key, bytes);
    const { pathname, search } = new URL(presigned.url);
    const req = httpRequest({ host: "127.0.0.1", port: h.port, method: "PUT", path: pathname + search, headers: presigned.headers, agent: false });
    const failed = new Promise((resolve) => req.on("error", resolve));
    req.write(bytes.subarray(0, 256 * 1024));

    // The upload is under way: its temp file exists next to where the object would go.
    await eventually(async () => expect((await h.tree()).some((entry) => entry.endsWith(".tmp"))).toBe(true));
    req.destroy();
    await failed;

    expect(await h.uploadVerdicts()).toMatchObject([{ ok: false, status: 400, code: "IncompleteBody" }]);
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
    expect(await h.store.head(key)).toBeNull();
  });

  it("stores concurrent uploads of different keys", async () => {
    const h = await start();
    const objects = Array.from({ length: 8 }, (_, i) => ({ key: newKey(), bytes: Buffer.alloc(200_000 + i, i) }));
    const responses = await Promise.all(
      objects.map(async ({ key, bytes }) => put(await presignPut(h.store, key, bytes), bytes)),
    );
    expect(responses.map((r) => r.status)).toEqual(objects.map(() => 200));
    for (const { key, bytes } of objects) {
      expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    }
    expect((await h.tree()).filter((entry) => entry.endsWith(".tmp"))).toEqual([]);
  });
});

describe("presigned GET", () => {
  it("serves the bytes with the signed Content-Disposition and Content-Type", async () => {
    const h = await start();
    const key = newKey();
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 250, 251, 252]);
    await upload(h.store, key, bytes, "application/octet-stream");

    const presigned = await presignGet(h.store, key);
    expect(presigned.headers).toEqual({});
    const response = await fetch(presigned.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="holiday photo.png"');
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("etag")).toBe(`"${md5Hex(bytes)}"`);
    expect(response.headers.get("cache-control")).toBe("private");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);

    const head = await fetch(presigned.url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));
    expect(head.headers.get("etag")).toBe(`"${md5Hex(bytes)}"`);
    expect(head.headers.get("content-type")).toBe("image/png");
    expect(await head.text()).toBe("");
  });

  it("serves ranges with 206 and refuses unsatisfiable ones with 416", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("0123456789abcdef");
    await upload(h.store, key, bytes);
    const { url } = await presignGet(h.store, key);

    const cases: Array<[string, string, string]> = [
      ["bytes=2-5", "2345", "bytes 2-5/16"],
      ["bytes=10-", "abcdef", "bytes 10-15/16"],
      ["bytes=-3", "def", "bytes 13-15/16"],
      ["bytes=14-99", "ef", "bytes 14-15/16"],
    ];
    for (const [range, body, contentRange] of cases) {
      const response = await fetch(url, { headers: { Range: range } });
      expect(response.status, range).toBe(206);
      expect(response.headers.get("content-range")).toBe(contentRange);
      expect(response.headers.get("content-length")).toBe(String(body.length));
      expect(await response.text()).toBe(body);
    }

    for (const range of ["bytes=16-", "bytes=99-100", "bytes=-0"]) {
      const response = await fetch(url, { headers: { Range: range } });
      expect(response.status, range).toBe(416);
      expect(response.headers.get("content-range")).toBe("bytes */16");
      expect(await response.text()).toContain("InvalidRange");
    }

    // A range it does not understand is ignored, as S3 does: the whole object.
    const multi = await fetch(url, { headers: { Range: "bytes=0-1,4-5" } });
    expect(multi.status).toBe(200);
    expect(await multi.text()).toBe("0123456789abcdef");
  });

  it("refuses tampered response headers, a tampered key and an expired URL with 403", async () => {
    const h = await start();
    const key = newKey();
    const other = newKey();
    await upload(h.store, key, bytesOf("private"));
    await upload(h.store, other, bytesOf("someone else's"));
    const url = new URL((await presignGet(h.store, key)).url);

    const inline = new URL(url);
    inline.searchParams.set(RESPONSE_TYPE_PARAM, "text/html");
    const disposition = new URL(url);
    disposition.searchParams.set(RESPONSE_DISPOSITION_PARAM, "inline");
    const otherKey = new URL(url);
    otherKey.pathname = `/objects/${other}`;
    for (const tampered of [inline, disposition, otherKey]) {
      const response = await fetch(tampered);
      expect(response.status, tampered.href).toBe(403);
      expect(await response.text()).not.toContain("someone else");
    }

    const fields = { [RESPONSE_DISPOSITION_PARAM]: "inline", [RESPONSE_TYPE_PARAM]: "text/plain" };
    const expired = forgeUrl(h.origin, `/objects/${key}`, { method: "GET", key, expires: Math.floor(Date.now() / 1000) - 1, fields }, fields);
    const response = await fetch(expired);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("Request has expired");
    // A PUT signature is no GET signature.
    const putUrl = (await presignPut(h.store, key, bytesOf("x"))).url;
    expect((await fetch(putUrl)).status).toBe(403);
  });

  it("answers 404 for a missing object", async () => {
    const h = await start();
    const response = await fetch((await presignGet(h.store, newKey())).url);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("NoSuchKey");
    const head = await fetch((await presignGet(h.store, "files")).url, { method: "HEAD" });
    expect(head.status).toBe(404);
  });
});

describe("keys", () => {
  // Raw paths with the key a naive server would derive from them. Each is signed
  // with the real secret, so only the key rules stand between it and the canary.
  const tricks: Array<[string, string]> = [
    ["/objects/..%2fcanary.txt", "../canary.txt"],
    ["/objects/files/..%2F..%2F..%2Fcanary.txt", "files/../../../canary.txt"],
    ["/objects/%2e%2e/canary.txt", "../canary.txt"],
    ["/objects/files/%2E%2E/%2e%2e/canary.txt", "files/../../canary.txt"],
    ["/objects/../canary.txt", "../canary.txt"],
    ["/objects/..%5ccanary.txt", "..\\canary.txt"],
    ["/objects/%252e%252e%252fcanary.txt", "../canary.txt"],
    ["/objects/%252e%252e%252fcanary.txt", "%2e%2e%2fcanary.txt"],
    ["/objects/%2fcanary.txt", "/canary.txt"],
    ["/objects/files//canary.txt", "files//canary.txt"],
    ["/objects/files/%00/x", "files/\0/x"],
    ["/objects/files/.hidden", "files/.hidden"],
    ["/objects/files/%ZZ", "files/%ZZ"],
  ];

  it("refuses path tricks on GET without reading outside the data folder", async () => {
    const h = await start();
    const fields = { [RESPONSE_DISPOSITION_PARAM]: "inline", [RESPONSE_TYPE_PARAM]: "text/plain" };
    for (const [path, key] of tricks) {
      const { pathname, search } = new URL(forgeUrl("http://x", "/", { method: "GET", key, fields }, fields));
      expect(pathname).toBe("/");
      const response = await rawRequest(h.port, "GET", path + search, {});
      expect(response.status, path).toBe(400);
      expect(response.body).not.toContain("canary");
    }
  });

  it("refuses path tricks on PUT without writing outside the data folder", async () => {
    const h = await start();
    const bytes = bytesOf("overwritten!");
    const headers = { "Content-Type": "text/plain", "Content-Length": String(bytes.length), "Content-MD5": md5Base64(bytes) };
    const fields = Object.fromEntries(Object.entries(headers).map(([n, v]) => [n.toLowerCase(), v]));
    for (const [path, key] of tricks) {
      const { search } = new URL(forgeUrl("http://x", "/", { method: "PUT", key, fields }));
      const response = await rawRequest(h.port, "PUT", path + search, headers, bytes);
      expect(response.status, path).toBe(400);
    }
    expect(await readFile(join(h.base, "canary.txt"), "utf8")).toBe(CANARY);
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("are checked when presigning, heading and deleting", async () => {
    const h = await start();
    for (const key of ["../canary.txt", "files/../../canary.txt", "/etc/passwd", "files/a\\b", "", "files/.x", "a//b"]) {
      await expect(h.store.presignPut({ key, contentType: "text/plain", contentLength: 1, contentMd5: md5Base64(bytesOf("x")), expiresInSeconds: 60 })).rejects.toThrow(/invalid object key/);
      await expect(h.store.presignGet({ key, contentType: "text/plain", contentDisposition: "inline", expiresInSeconds: 60 })).rejects.toThrow(/invalid object key/);
      await expect(h.store.head(key)).rejects.toThrow(/invalid object key/);
      await expect(h.store.delete([key])).rejects.toThrow(/invalid object key/);
    }
    expect(await readFile(join(h.base, "canary.txt"), "utf8")).toBe(CANARY);
  });
});

describe("delete", () => {
  it("removes objects, their sidecars and emptied folders; missing keys count as removed", async () => {
    const h = await start();
    const [a, b, kept] = [newKey(), newKey(), newKey()];
    await upload(h.store, a, bytesOf("a"));
    await upload(h.store, b, bytesOf("b"));
    await upload(h.store, kept, bytesOf("kept"));
    const { url } = await presignGet(h.store, a);

    expect(await h.store.delete([a, b, newKey()])).toEqual([]);
    expect(await h.store.head(a)).toBeNull();
    expect(await h.store.head(b)).toBeNull();
    expect((await fetch(url)).status).toBe(404);
    expect(await h.tree()).toEqual(storedEntries(kept));
    expect(await h.store.delete([a])).toEqual([]);
  });
});

describe("move", () => {
  it("renames an object (sidecar included) to another key, out of its folder; false for a missing one", async () => {
    const h = await start();
    const [from, to] = [newKey(), `quarantine/${randomUUID()}/original`];
    const bytes = bytesOf("moved bytes");
    await upload(h.store, from, bytes);
    const { url } = await presignGet(h.store, from);
    expect(await h.store.move(from, { key: to })).toBe(true);
    expect(await h.store.head(from)).toBeNull();
    expect((await fetch(url)).status).toBe(404); // a URL for the old key serves nothing
    expect(await h.store.head(to)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    expect(await h.tree()).toEqual(storedEntries(to));
    expect(await h.store.move(from, { key: to })).toBe(false);
    await expect(h.store.move(to, { key: from, bucket: "elsewhere" })).rejects.toThrow(/no buckets/);
  });
});

describe("put and get", () => {
  const MiB = 1024 * 1024;

  /** A file of `size` random bytes outside the store's folder (the caller's temp file). */
  async function callerFile(size: number): Promise<{ path: string; bytes: Buffer }> {
    const dir = await mkdtemp(join(tmpdir(), "local-store-caller-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const bytes = randomBytes(size);
    const path = join(dir, "upload.tmp");
    await writeFile(path, bytes);
    return { path, bytes };
  }

  function putInput(key: string, body: Buffer | { path: string }, bytes: Uint8Array, contentType = "image/webp") {
    return { key, body, contentType, contentLength: bytes.length, md5: md5Base64(bytes) };
  }

  it("put stores a Buffer as an accepted upload would; get and presigned GET return it", async () => {
    const h = await start();
    const key = newKey();
    const bytes = Buffer.from([0x52, 0x49, 0x46, 0x46, 0, 1, 2, 250, 251, 252]);
    await h.store.put(putInput(key, bytes, bytes));

    expect(await h.tree()).toEqual(storedEntries(key));
    expect(await readFile(join(h.dataDir, key))).toEqual(bytes);
    expect(await h.store.get(key)).toEqual(bytes);
    expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    const sidecar = JSON.parse(await readFile(join(h.dataDir, "files", key.split("/")[1]!, ".original.meta"), "utf8"));
    expect(sidecar.md5).toBe(md5Base64(bytes));

    const response = await fetch((await presignGet(h.store, key)).url);
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${md5Hex(bytes)}"`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
  });

  it("put copies a file body (5 MiB) and leaves the caller's file in place", async () => {
    const h = await start();
    const key = newKey();
    const { path, bytes } = await callerFile(5 * MiB);
    await h.store.put(putInput(key, { path }, bytes));

    const stored = await h.store.get(key);
    expect(stored?.length).toBe(bytes.length);
    expect(stored?.equals(bytes)).toBe(true);
    expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    expect(await h.tree()).toEqual(storedEntries(key));
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it("put replaces an existing object, sidecar included", async () => {
    const h = await start();
    const key = newKey();
    const first = bytesOf("the first, longer version");
    await upload(h.store, key, first);
    const second = bytesOf("second");
    await h.store.put(putInput(key, second, second));
    expect(await h.store.get(key)).toEqual(second);
    expect(await h.store.head(key)).toEqual({ size: second.length, md5: md5Base64(second) });

    const { path, bytes: third } = await callerFile(300_000);
    await h.store.put(putInput(key, { path }, third));
    expect((await h.store.get(key))?.equals(third)).toBe(true);
    expect(await h.store.head(key)).toEqual({ size: third.length, md5: md5Base64(third) });
    const sidecar = JSON.parse(await readFile(join(h.dataDir, "files", key.split("/")[1]!, ".original.meta"), "utf8"));
    expect(sidecar.md5).toBe(md5Base64(third));
    expect(await h.tree()).toEqual(storedEntries(key));
  });

  it("put with a wrong md5 throws an Error (not unavailability) and leaves no file or temp file", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("the real bytes");
    const { path, bytes: fileBytes } = await callerFile(2 * MiB);
    const wrong = md5Base64(bytesOf("other bytes"));

    for (const input of [{ ...putInput(key, bytes, bytes), md5: wrong }, { ...putInput(key, { path }, fileBytes), md5: wrong }]) {
      const error = await h.store.put(input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(DependencyUnavailableError);
      expect((error as Error).message).toContain("BadDigest");
      expect(await h.tree()).toEqual(["canary.txt", "data"]);
      expect(await h.store.get(key)).toBeNull();
    }

    // Over an existing object, the object stays as it was.
    await h.store.put(putInput(key, bytes, bytes));
    await expect(h.store.put({ ...putInput(key, { path }, fileBytes), md5: wrong })).rejects.toThrow(/BadDigest/);
    expect(await h.store.get(key)).toEqual(bytes);
    expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    expect(await h.tree()).toEqual(storedEntries(key));
  });

  it("put refuses a body of another length than contentLength, and a missing file, storing nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = bytesOf("ten bytes!");
    const { path } = await callerFile(10);
    await expect(h.store.put({ ...putInput(key, bytes, bytes), contentLength: 11 })).rejects.toThrow(/contentLength/);
    await expect(h.store.put({ ...putInput(key, { path }, bytes), contentLength: 9 })).rejects.toThrow(/contentLength/);
    const missing = await h.store.put(putInput(key, { path: `${path}.missing` }, bytes)).catch((e: unknown) => e);
    expect(missing).not.toBeInstanceOf(DependencyUnavailableError);
    expect((missing as { code?: string }).code).toBe("ENOENT");
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("get returns an inclusive range clamped to the size, and an empty Buffer from past the end", async () => {
    const h = await start();
    const [ten, large, empty] = [newKey(), newKey(), newKey()];
    const tenBytes = bytesOf("0123456789");
    const largeBytes = randomBytes(100_000);
    await h.store.put(putInput(ten, tenBytes, tenBytes));
    await h.store.put(putInput(large, largeBytes, largeBytes));
    await h.store.put(putInput(empty, Buffer.alloc(0), Buffer.alloc(0)));

    expect(await h.store.get(ten, { start: 0, end: 4099 })).toEqual(tenBytes);
    expect(await h.store.get(ten, { start: 3, end: 5 })).toEqual(bytesOf("345"));
    expect(await h.store.get(ten, { start: 9, end: 9 })).toEqual(bytesOf("9"));
    expect(await h.store.get(large, { start: 0, end: 4099 })).toEqual(largeBytes.subarray(0, 4100));
    expect(await h.store.get(large, { start: 99_990, end: 200_000 })).toEqual(largeBytes.subarray(99_990));
    expect(await h.store.get(ten, { start: 10, end: 4099 })).toEqual(Buffer.alloc(0));
    expect(await h.store.get(ten, { start: 5000, end: 9000 })).toEqual(Buffer.alloc(0));
    expect(await h.store.get(empty)).toEqual(Buffer.alloc(0));
    expect(await h.store.get(empty, { start: 0, end: 4099 })).toEqual(Buffer.alloc(0));

    for (const range of [{ start: -1, end: 5 }, { start: 5, end: 4 }, { start: 0, end: Number.NaN }]) {
      await expect(h.store.get(ten, range)).rejects.toThrow(/invalid range/);
    }
  });

  it("get returns null for a missing key and for a key prefix (a folder)", async () => {
    const h = await start();
    const key = newKey();
    expect(await h.store.get(key)).toBeNull();
    expect(await h.store.get(key, { start: 0, end: 4099 })).toBeNull();
    await h.store.put(putInput(key, bytesOf("x"), bytesOf("x")));
    expect(await h.store.get("files")).toBeNull();
    expect(await h.store.get(`${key}/below`)).toBeNull();
  });

  it("put and get check keys", async () => {
    const h = await start();
    const bytes = bytesOf("overwritten!");
    for (const key of ["../canary.txt", "files/../../canary.txt", "/etc/passwd", "files/.x", "a//b", ""]) {
      await expect(h.store.put(putInput(key, bytes, bytes))).rejects.toThrow(/invalid object key/);
      await expect(h.store.get(key)).rejects.toThrow(/invalid object key/);
    }
    expect(await readFile(join(h.base, "canary.txt"), "utf8")).toBe(CANARY);
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });

  it("reports I/O failures as DependencyUnavailableError", async () => {
    const h = await start();
    // A symlink loop where the object (get) or its folder (put) should be: ELOOP.
    const id = randomUUID();
    await mkdir(join(h.dataDir, "files"), { recursive: true });
    await symlink(id, join(h.dataDir, "files", id));
    const bytes = bytesOf("bytes");
    const { path } = await callerFile(bytes.length);
    await writeFile(path, bytes);
    for (const call of [
      () => h.store.put(putInput(`files/${id}/original`, bytes, bytes)),
      () => h.store.put(putInput(`files/${id}/original`, { path }, bytes)),
      () => h.store.get(`files/${id}`),
      () => h.store.get(`files/${id}`, { start: 0, end: 4099 }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as DependencyUnavailableError).dependency).toBe("object store");
    }
    expect((await h.tree()).filter((entry) => entry.endsWith(".tmp"))).toEqual([]);
  });
});

describe("put with a stream body", () => {
  it("stores the stream's bytes, asking for the digest only once the stream has ended", async () => {
    const h = await start();
    const key = newKey();
    const bytes = randomBytes(300_000);
    let ended = false;
    async function* tracked() {
      yield* chunksOf(bytes, 64 * 1024);
      ended = true;
    }
    const asked: boolean[] = [];
    await h.store.put(streamInput(key, tracked(), bytes.length, () => (asked.push(ended), md5Base64(bytes))));
    expect(asked).toEqual([true]);
    expect((await h.store.get(key))?.equals(bytes)).toBe(true);
    expect(await h.store.head(key)).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    expect(await h.tree()).toEqual(storedEntries(key));
  });

  it("throws the stream's own error when it fails, even after its last byte, and stores nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = randomBytes(200_000);
    for (const chunks of [1, 4]) {
      const aborted = new Error("client went away");
      const error = await h.store
        .put(streamInput(key, chunksOf(bytes, 64 * 1024, { chunks, error: aborted }), bytes.length, () => md5Base64(bytes)))
        .catch((e: unknown) => e);
      expect(error).toBe(aborted);
      expect(await h.store.get(key)).toBeNull();
      expect(await h.tree()).toEqual(["canary.txt", "data"]);
    }
  });

  it("refuses a stream of another length than contentLength, or other bytes than its digest, storing nothing", async () => {
    const h = await start();
    const key = newKey();
    const bytes = randomBytes(100_000);
    const md5 = () => md5Base64(bytes);
    await expect(h.store.put(streamInput(key, chunksOf(bytes, 30_000), bytes.length + 1, md5))).rejects.toThrow(/IncompleteBody/);
    await expect(h.store.put(streamInput(key, chunksOf(bytes, 30_000), bytes.length - 1, md5))).rejects.toThrow(/EntityTooLarge/);
    const wrong = () => md5Base64(bytesOf("other bytes"));
    const error = await h.store.put(streamInput(key, chunksOf(bytes, 30_000), bytes.length, wrong)).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toContain("BadDigest");
    expect(await h.tree()).toEqual(["canary.txt", "data"]);
  });
});

describe("route", () => {
  it("answers 503 when the store is unavailable and logs the cause, never the URL", async () => {
    const h = await start();
    const lines: string[] = [];
    const failing: LocalObjectStore = {
      ...h.store,
      acceptUpload: async () => {
        throw new DependencyUnavailableError("object store", new Error("EIO: i/o error, write"));
      },
      openDownload: async () => {
        throw new DependencyUnavailableError("object store", new Error("EIO: i/o error, read"));
      },
    };
    const app = fastify({
      logger: { level: "info", stream: { write: (line: string) => lines.push(line) } },
      logController: new LogController({ disableRequestLogging: true }),
    });
    await app.register(objectRoutes(failing));
    const origin = await app.listen({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => app.close());

    const key = newKey();
    const bytes = bytesOf("bytes");
    const putUrl = new URL((await presignPut(h.store, key, bytes)).url);
    const getUrl = new URL((await presignGet(h.store, key)).url);
    const uploaded = await fetch(`${origin}${putUrl.pathname}${putUrl.search}`, {
      method: "PUT",
      headers: (await presignPut(h.store, key, bytes)).headers,
      body: bytes,
    });
    expect(uploaded.status).toBe(503);
    expect(await uploaded.text()).toContain("<Code>ServiceUnavailable</Code>");
    const downloaded = await fetch(`${origin}${getUrl.pathname}${getUrl.search}`);
    expect(downloaded.status).toBe(503);

    const log = lines.join("");
    expect(log).toContain("EIO: i/o error, write");
    expect(log).toContain("EIO: i/o error, read");
    expect(log).not.toContain(SIGNATURE_PARAM);
    expect(log).not.toContain(putUrl.searchParams.get(SIGNATURE_PARAM)!);
  });
});

describe("housekeeping", () => {
  it("removes stale temp files at start and keeps fresh ones (an upload may be writing them)", async () => {
    const h = await start();
    const folder = join(h.dataDir, "files", randomUUID());
    await mkdir(folder, { recursive: true });
    const stale = join(folder, ".original.0123456789abcdef.tmp");
    const fresh = join(folder, ".original.fedcba9876543210.tmp");
    await writeFile(stale, "crashed upload");
    await writeFile(fresh, "upload in flight");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);

    await createLocalObjectStore({ dir: h.dataDir, publicUrl: h.origin, secret: SECRET });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it("ping() checks the folder is writable and reports an unusable one as unavailable", async () => {
    const h = await start();
    await expect(h.store.ping()).resolves.toBeUndefined();
    expect(await h.tree()).toEqual(["canary.txt", "data"]);

    await rm(h.dataDir, { recursive: true });
    await writeFile(h.dataDir, "a file where the folder was");
    await expect(h.store.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(h.store.head(newKey())).resolves.toBeNull();
  });

  it("refuses a short signing secret", async () => {
    await expect(createLocalObjectStore({ dir: join(tmpdir(), "never-created"), publicUrl: "http://localhost", secret: "short" })).rejects.toThrow(/32 bytes/);
  });
});
