// S3 adapter against a real s3rver over real HTTP. s3rver checks neither SigV4
// signatures nor Content-MD5, so signatures are verified here (verifyPresignedSignature),
// and a recording proxy shows which requests the adapter actually sends.

import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import type { ObjectStore, PresignedRequest } from "../../src/storage/object-store.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { startS3Server } from "../support/s3-server.js";
import type { S3Server } from "../support/s3-server.js";
import { chunksOf, streamInput } from "../support/upload.js";
import { describeListing } from "./listing-contract.js";

let server: S3Server;
let scratch: string;
const stores: ObjectStore[] = [];

beforeAll(async () => {
  server = await startS3Server({ bucket: "files-test", otherBuckets: ["quarantine-test"] });
  scratch = await mkdtemp(join(tmpdir(), "s3-store-test-"));
});
afterAll(async () => {
  await server?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
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

// ListObjectsV2 paging (continuation tokens) included.
describeListing("S3", async () => makeStore());

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

const MiB = 1024 * 1024;

// A full collection before measuring, so only memory still referenced counts.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function liveArrayBuffers(): number {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}

/** A temp file of `size` random bytes (the caller's file a put() streams). */
async function tempFile(size: number): Promise<{ path: string; bytes: Buffer }> {
  const bytes = randomBytes(size);
  const path = join(scratch, `${randomBytes(8).toString("hex")}.bin`);
  await writeFile(path, bytes);
  return { path, bytes };
}

function putInput(key: string, body: Buffer | { path: string }, bytes: Buffer, contentType = "application/octet-stream") {
  return { key, body, contentType, contentLength: bytes.length, md5: md5Base64(bytes) };
}

describe("put", () => {
  it("stores a Buffer; get returns the same bytes and head() its size and MD5", async () => {
    const store = makeStore();
    const bytes = Buffer.from("variant bytes \u0000\u00ff", "latin1");
    await store.put(putInput("put/buffer.bin", bytes, bytes, "image/webp"));

    expect(await store.get("put/buffer.bin")).toEqual(bytes);
    expect(await store.head("put/buffer.bin")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
  });

  it("streams a file body (5 MiB); get returns the same bytes and the caller's file stays", async () => {
    const store = makeStore();
    const { path, bytes } = await tempFile(5 * MiB);
    await store.put(putInput("put/file.bin", { path }, bytes));

    const stored = await store.get("put/file.bin");
    expect(stored?.length).toBe(bytes.length);
    expect(stored?.equals(bytes)).toBe(true);
    expect(await store.head("put/file.bin")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    await expect(open(path, "r").then((handle) => handle.close())).resolves.toBeUndefined();
  });

  it("replaces an existing object", async () => {
    const store = makeStore();
    const first = Buffer.from("first, the longer version");
    const second = Buffer.from("second");
    await store.put(putInput("put/replaced", first, first));
    await store.put(putInput("put/replaced", second, second));
    expect(await store.get("put/replaced")).toEqual(second);
    expect(await store.head("put/replaced")).toEqual({ size: second.length, md5: md5Base64(second) });

    const { path, bytes } = await tempFile(3 * MiB);
    await store.put(putInput("put/replaced", { path }, bytes));
    expect(await store.head("put/replaced")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
  });

  it("sends SSE, Content-MD5, Content-Type and Content-Length, and no checksum or chunked encoding", async () => {
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      const store = makeStore({ endpoint: proxy.endpoint });
      const small = Buffer.from("small variant");
      await store.put(putInput("put/headers-buffer", small, small, "image/png"));
      const { path, bytes } = await tempFile(3 * MiB); // over the SDK's 2 MiB Expect: 100-continue threshold
      await store.put(putInput("put/headers-file", { path }, bytes, "video/mp4"));

      const puts = proxy.requests.filter((r) => r.method === "PUT");
      expect(puts.map((r) => new URL(r.url, "http://x").pathname)).toEqual([
        "/files-test/put/headers-buffer",
        "/files-test/put/headers-file",
      ]);
      for (const [request, sent, type] of [
        [puts[0]!, small, "image/png"],
        [puts[1]!, bytes, "video/mp4"],
      ] as const) {
        expect(request.headers).toMatchObject({
          "x-amz-server-side-encryption": "AES256",
          "content-md5": md5Base64(sent),
          "content-type": type,
          "content-length": String(sent.length),
        });
        // What the SDK adds with requestChecksumCalculation WHEN_SUPPORTED: a CRC32
        // trailer in aws-chunked framing, which s3rver would store as the object.
        expect(request.headers["transfer-encoding"]).toBeUndefined();
        expect(request.headers["content-encoding"]).toBeUndefined();
        expect(request.headers["x-amz-trailer"]).toBeUndefined();
        expect(request.headers["x-amz-decoded-content-length"]).toBeUndefined();
        expect(Object.keys(request.headers).filter((name) => name.includes("checksum"))).toEqual([]);
        expect(request.size).toBe(sent.length);
        expect(request.md5).toBe(md5Base64(sent));
      }
      // The Buffer's payload is signed; the stream's cannot be hashed without reading it first.
      expect(puts[0]!.headers["x-amz-content-sha256"]).toBe(createHash("sha256").update(small).digest("hex"));
      expect(puts[1]!.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
      expect(await store.get("put/headers-file")).toEqual(bytes);
    } finally {
      await proxy.close();
    }
  });

  it("streams a 50 MiB file: it is read as the request goes, never held whole", async () => {
    // The server stops reading after 1 MiB; TCP backpressure then stops the
    // client too. Meanwhile the memory in use is measured, and the end of the
    // file rewritten: a client that had read the file whole before sending
    // would hold 50 MiB more, and send the old end.
    const fake = await startFakeS3({ holdAfterBytes: MiB });
    try {
      const store = makeStore({ endpoint: fake.endpoint });
      const { path, bytes } = await tempFile(50 * MiB);
      const before = liveArrayBuffers();
      const putting = store.put(putInput("put/large", { path }, bytes));
      await fake.held;
      const growth = liveArrayBuffers() - before;
      console.info(`50 MiB file put, 1 MiB sent: live array buffers grew by ${(growth / MiB).toFixed(2)} MiB`);
      expect(growth).toBeLessThan(8 * MiB);
      const tail = Buffer.alloc(MiB, 0xab);
      const handle = await open(path, "r+");
      await handle.write(tail, 0, tail.length, bytes.length - tail.length);
      await handle.close();
      tail.copy(bytes, bytes.length - tail.length);
      fake.release();
      await putting;

      expect(fake.requests).toHaveLength(1);
      const [request] = fake.requests;
      expect(request?.headers["content-length"]).toBe(String(50 * MiB));
      expect(request?.headers["transfer-encoding"]).toBeUndefined();
      expect(request?.size).toBe(50 * MiB);
      expect(request?.md5).toBe(md5Base64(bytes)); // the rewritten end
    } finally {
      await fake.close();
    }
  });

  it("retries a file body once, reopening the file (the SDK never retries a stream)", async () => {
    const fake = await startFakeS3({
      respond: (_request, index) => (index === 0 ? { status: 503, code: "SlowDown" } : { status: 200 }),
    });
    try {
      const store = makeStore({ endpoint: fake.endpoint });
      const { path, bytes } = await tempFile(3 * MiB);
      await store.put(putInput("put/retried", { path }, bytes));
      expect(fake.requests.map((r) => [r.size, r.md5])).toEqual([
        [bytes.length, md5Base64(bytes)],
        [bytes.length, md5Base64(bytes)],
      ]);
    } finally {
      await fake.close();
    }
  });

  it("reports a digest S3 refuses as a bug (Error), not as unavailability, without retrying", async () => {
    // s3rver stores bytes whatever their Content-MD5; S3 answers 400 BadDigest.
    const fake = await startFakeS3({ respond: () => ({ status: 400, code: "BadDigest" }) });
    try {
      const store = makeStore({ endpoint: fake.endpoint });
      const bytes = Buffer.from("bytes");
      const wrong = { ...putInput("put/bad", bytes, bytes), md5: md5Base64(Buffer.from("other")) };
      const error = await store.put(wrong).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(DependencyUnavailableError);
      expect((error as Error).message).toMatch(/do not match md5/);

      const { path, bytes: fileBytes } = await tempFile(1000);
      const fileError = await store
        .put({ ...putInput("put/bad", { path }, fileBytes), md5: md5Base64(Buffer.from("other")) })
        .catch((e: unknown) => e);
      expect(fileError).toBeInstanceOf(Error);
      expect(fileError).not.toBeInstanceOf(DependencyUnavailableError);
      expect(fake.requests).toHaveLength(2); // one each: not retried
    } finally {
      await fake.close();
    }
  });

  it("refuses a body whose length is not contentLength, and a missing file, before sending anything", async () => {
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      const store = makeStore({ endpoint: proxy.endpoint });
      const bytes = Buffer.from("ten bytes!");
      await expect(store.put({ ...putInput("put/len", bytes, bytes), contentLength: 11 })).rejects.toThrow(/contentLength/);
      const { path } = await tempFile(10);
      await expect(store.put({ ...putInput("put/len", { path }, bytes), contentLength: 11 })).rejects.toThrow(/contentLength/);
      const missing = await store.put(putInput("put/len", { path: join(scratch, "no-such-file") }, bytes)).catch((e: unknown) => e);
      expect(missing).not.toBeInstanceOf(DependencyUnavailableError);
      expect((missing as { code?: string }).code).toBe("ENOENT");
      expect(proxy.requests).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});

describe("put with a stream body", () => {
  it("sends the stream as it comes, with Content-Length and SSE, no Content-MD5 and no chunked encoding", async () => {
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      const store = makeStore({ endpoint: proxy.endpoint });
      const bytes = randomBytes(3 * MiB + 17);
      let ended = false;
      async function* tracked() {
        yield* chunksOf(bytes, 64 * 1024);
        ended = true;
      }
      const asked: boolean[] = [];
      await store.put(streamInput("put/stream", tracked(), bytes.length, () => (asked.push(ended), md5Base64(bytes))));
      expect(asked).toEqual([true]); // the digest, checked against the ETag once the stream has ended

      const [request] = proxy.requests.filter((r) => r.method === "PUT");
      expect(request?.headers).toMatchObject({
        "x-amz-server-side-encryption": "AES256",
        "content-type": "image/png",
        "content-length": String(bytes.length),
      });
      expect(request?.headers["content-md5"]).toBeUndefined();
      expect(request?.headers["transfer-encoding"]).toBeUndefined();
      expect(request?.headers["x-amz-trailer"]).toBeUndefined();
      expect(request?.md5).toBe(md5Base64(bytes));
      expect((await store.get("put/stream"))?.equals(bytes)).toBe(true);
      expect(await store.head("put/stream")).toEqual({ size: bytes.length, md5: md5Base64(bytes) });
    } finally {
      await proxy.close();
    }
  });

  // S3 stores an object only once it has every byte of Content-Length, so a
  // failed stream must never deliver them all. (s3rver is no judge here: it
  // writes an object while the bytes arrive and keeps what an aborted request
  // sent.)
  it("never delivers all the promised bytes of a stream that fails, even after its last byte, and throws its error", async () => {
    const fake = await startCountingS3();
    try {
      const store = makeStore({ endpoint: fake.endpoint });
      const bytes = randomBytes(MiB);
      // 16 chunks of 64 KiB: fail mid-way, and after the 16th.
      for (const chunks of [5, 16]) {
        const aborted = new Error("client went away");
        const key = `put/aborted-after-${chunks}`;
        const error = await store
          .put(streamInput(key, chunksOf(bytes, 64 * 1024, { chunks, error: aborted }), bytes.length, () => md5Base64(bytes)))
          .catch((e: unknown) => e);
        expect(error).toBe(aborted);
        const put = await fake.settled(key);
        expect(put.complete).toBe(false);
        expect(put.size).toBeLessThan(bytes.length);
        expect(fake.deleted).toContain(key); // for S3-like servers that keep partial objects
      }
    } finally {
      await fake.close();
    }
  });

  it("refuses a stream shorter or longer than contentLength without delivering contentLength bytes", async () => {
    const fake = await startCountingS3();
    try {
      const store = makeStore({ endpoint: fake.endpoint });
      const bytes = randomBytes(200_000);
      const md5 = () => md5Base64(bytes);
      await expect(store.put(streamInput("put/stream-short", chunksOf(bytes, 50_000), bytes.length + 1, md5))).rejects.toThrow(
        /held 200000 bytes, not contentLength 200001/,
      );
      await expect(store.put(streamInput("put/stream-long", chunksOf(bytes, 50_000), bytes.length - 1, md5))).rejects.toThrow(
        /more than contentLength/,
      );
      for (const key of ["put/stream-short", "put/stream-long"]) expect((await fake.settled(key)).complete).toBe(false);
    } finally {
      await fake.close();
    }
  });

  it("removes the object and throws when the stored bytes are not the stream's digest", async () => {
    const store = makeStore();
    const bytes = randomBytes(100_000);
    const error = await store
      .put(streamInput("put/stream-digest", chunksOf(bytes, 30_000), bytes.length, () => md5Base64(Buffer.from("other"))))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toMatch(/do not match md5/);
    expect(await store.head("put/stream-digest")).toBeNull();
  });

  it("reports an unreachable store as unavailable", async () => {
    const store = makeStore({ endpoint: "http://127.0.0.1:9" });
    const bytes = randomBytes(1000);
    const error = await store.put(streamInput("put/nowhere", chunksOf(bytes, 300), bytes.length, () => md5Base64(bytes))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
  });
});

describe("get", () => {
  it("returns an inclusive range, clamped to the object's size", async () => {
    const store = makeStore();
    const ten = Buffer.from("0123456789");
    await store.put(putInput("get/ten", ten, ten));
    const large = randomBytes(100_000);
    await store.put(putInput("get/large", large, large));

    expect(await store.get("get/ten", { start: 0, end: 4099 })).toEqual(ten);
    expect(await store.get("get/ten", { start: 3, end: 5 })).toEqual(Buffer.from("345"));
    expect(await store.get("get/ten", { start: 9, end: 9 })).toEqual(Buffer.from("9"));
    expect(await store.get("get/large", { start: 0, end: 4099 })).toEqual(large.subarray(0, 4100));
    expect(await store.get("get/large", { start: 99_990, end: 200_000 })).toEqual(large.subarray(99_990));
  });

  it("returns an empty Buffer for a range starting at or past the end (S3's 416)", async () => {
    const store = makeStore();
    const ten = Buffer.from("0123456789");
    await store.put(putInput("get/short", ten, ten));
    expect(await store.get("get/short", { start: 10, end: 4099 })).toEqual(Buffer.alloc(0));
    expect(await store.get("get/short", { start: 5000, end: 9000 })).toEqual(Buffer.alloc(0));
  });

  it("cuts the range itself when the server ignores Range", async () => {
    const ten = Buffer.from("0123456789");
    await makeStore().put(putInput("get/ignored-range", ten, ten));
    const proxy = await startRecordingProxy(server.endpoint, (headers) => headers, (headers) => {
      const { range: _range, ...rest } = headers;
      return rest;
    });
    try {
      expect(await makeStore({ endpoint: proxy.endpoint }).get("get/ignored-range", { start: 2, end: 4 })).toEqual(
        Buffer.from("234"),
      );
    } finally {
      await proxy.close();
    }
  });

  it("returns null for a missing key, with or without a range", async () => {
    const store = makeStore();
    expect(await store.get("get/no-such-key")).toBeNull();
    expect(await store.get("get/no-such-key", { start: 0, end: 4099 })).toBeNull();
  });

  it("sends Range: bytes=start-end", async () => {
    const ten = Buffer.from("0123456789");
    await makeStore().put(putInput("get/range-header", ten, ten));
    const proxy = await startRecordingProxy(server.endpoint);
    try {
      await makeStore({ endpoint: proxy.endpoint }).get("get/range-header", { start: 0, end: 4099 });
      expect(proxy.requests.map((r) => [r.method, r.headers.range])).toEqual([["GET", "bytes=0-4099"]]);
    } finally {
      await proxy.close();
    }
  });

  it("refuses a malformed range", async () => {
    const store = makeStore();
    for (const range of [{ start: -1, end: 5 }, { start: 5, end: 4 }, { start: 0.5, end: 4 }]) {
      await expect(store.get("get/ten", range)).rejects.toThrow(/invalid range/);
    }
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

  it("fails put (Buffer and file) and get with DependencyUnavailableError, and writes no console warning", async () => {
    const store = makeStore({ endpoint: `http://127.0.0.1:${await closedPort()}` });
    const bytes = Buffer.from("bytes");
    const { path, bytes: fileBytes } = await tempFile(3 * MiB);
    const warn = vi.spyOn(console, "warn");
    try {
      for (const call of [
        () => store.put(putInput("k", bytes, bytes)),
        () => store.put(putInput("k", { path }, fileBytes)),
        () => store.get("k"),
        () => store.get("k", { start: 0, end: 4099 }),
      ]) {
        const started = Date.now();
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DependencyUnavailableError);
        expect((error as DependencyUnavailableError).dependency).toBe("object store");
        expect(Date.now() - started).toBeLessThan(5_000);
      }
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
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
  headers: IncomingHttpHeaders;
  body: string;
  /** Body length and base64 MD5. */
  size: number;
  md5: string;
}

/** Forwards to `target` and records each request; may rewrite response headers and request headers. */
async function startRecordingProxy(
  target: string,
  rewriteResponseHeaders: (headers: IncomingHttpHeaders) => IncomingHttpHeaders = (headers) => headers,
  rewriteRequestHeaders: (headers: IncomingHttpHeaders) => IncomingHttpHeaders = (headers) => headers,
): Promise<{ endpoint: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: body.toString("utf8"),
      size: body.length,
      md5: md5Base64(body),
    });
    const headers = rewriteRequestHeaders(req.headers);
    const upstream = httpRequest(new URL(req.url ?? "/", target), { method: req.method, headers }, (up) => {
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

interface FakeRequest {
  method: string;
  headers: IncomingHttpHeaders;
  size: number;
  md5: string;
}

/**
 * An S3 stand-in that reads each body as it comes (hashing, not keeping it) and
 * answers `respond` (200 by default, or an S3 error with that code). With
 * holdAfterBytes, it stops reading the first body after that many bytes until
 * release(); `held` resolves then.
 */
async function startFakeS3(options: {
  respond?: (request: FakeRequest, index: number) => { status: number; code?: string };
  holdAfterBytes?: number;
}): Promise<{ endpoint: string; requests: FakeRequest[]; held: Promise<void>; release(): void; close(): Promise<void> }> {
  const requests: FakeRequest[] = [];
  let onHeld!: () => void;
  const held = new Promise<void>((resolve) => (onHeld = resolve));
  let release = (): void => undefined;
  let holding = options.holdAfterBytes !== undefined;
  const fake = createServer((req, res) => {
    const hash = createHash("md5");
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      if (holding && size >= (options.holdAfterBytes ?? 0)) {
        holding = false;
        req.pause();
        release = () => req.resume();
        onHeld();
      }
    });
    req.on("end", () => {
      const request = { method: req.method ?? "", headers: req.headers, size, md5: hash.digest("base64") };
      const index = requests.push(request) - 1;
      const { status, code } = options.respond?.(request, index) ?? { status: 200 };
      if (code === undefined) {
        res.writeHead(status, { etag: `"${Buffer.from(request.md5, "base64").toString("hex")}"` }).end();
      } else {
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fake</Message></Error>`);
      }
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  const { port } = fake.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    held,
    release: () => release(),
    close: () =>
      new Promise<void>((resolve) => {
        fake.closeAllConnections();
        fake.close(() => resolve());
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

/**
 * A fake S3 that counts each PUT's body against its Content-Length, complete or
 * not (an aborted request included), answers complete ones with the MD5 ETag,
 * and records the keys of DeleteObjects requests.
 */
async function startCountingS3(): Promise<{
  endpoint: string;
  deleted: string[];
  settled(key: string): Promise<{ size: number; complete: boolean }>;
  close(): Promise<void>;
}> {
  const puts = new Map<string, Promise<{ size: number; complete: boolean }>>();
  const deleted: string[] = [];
  const fake = createServer((req, res) => {
    const key = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).split("/").slice(2).join("/");
    if (req.method === "PUT") {
      const expected = Number(req.headers["content-length"]);
      const hash = createHash("md5");
      let size = 0;
      puts.set(
        key,
        new Promise((resolve) => {
          req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            hash.update(chunk);
          });
          req.on("end", () => {
            resolve({ size, complete: size === expected });
            res.writeHead(200, { etag: `"${hash.digest("hex")}"` }).end();
          });
          req.on("close", () => resolve({ size, complete: size === expected && req.complete }));
        }),
      );
      return;
    }
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      for (const match of body.matchAll(/<Key>([^<]*)<\/Key>/g)) deleted.push(match[1]!);
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult></DeleteResult>`);
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  const { port } = fake.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    deleted,
    async settled(key) {
      const put = puts.get(key);
      if (put === undefined) throw new Error(`no PUT of ${key}`);
      return put;
    },
    close: () =>
      new Promise<void>((resolve) => {
        fake.closeAllConnections();
        fake.close(() => resolve());
      }),
  };
}

describe("move", () => {
  it("moves an object to another key, or into another bucket, removing the source; false for a missing one", async () => {
    const store = makeStore();
    const bytes = Buffer.from("eicar-like bytes");
    await upload(store, "files/x/original", bytes);
    expect(await store.move("files/x/original", { key: "quarantine/x/original" })).toBe(true);
    expect(await store.head("files/x/original")).toBeNull();
    expect(await store.get("quarantine/x/original")).toEqual(bytes);

    expect(await store.move("quarantine/x/original", { key: "quarantine/x/original", bucket: "quarantine-test" })).toBe(true);
    expect(await store.head("quarantine/x/original")).toBeNull();
    expect(await makeStore({ bucket: "quarantine-test" }).get("quarantine/x/original")).toEqual(bytes);

    expect(await store.move("files/none/original", { key: "quarantine/none/original" })).toBe(false);
  });
});
