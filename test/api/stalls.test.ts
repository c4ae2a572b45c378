// A stalled dependency (a TCP proxy that holds every byte) answers callers
// within its bound (DB_QUERY_TIMEOUT_MS, S3_REQUEST_TIMEOUT_MS) with
// Unavailable, never a hang; readiness turns not-ready meanwhile and back after.
// A slow one, answering each request within its bound, is cut off by the call's
// own bound (CALL_TIMEOUT_MS).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { startBackends, startTestService, type Backends, type TestService } from "../support/service.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { fileSpec, pngLikeBytes, putUpload } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";
import { solid } from "../support/images.js";
import { FilePurpose } from "../../gen/file/v1/file_service_pb.js";

let backends: Backends;
let db: TcpProxy;
let s3: TcpProxy;
let svc: TestService;

beforeAll(async () => {
  backends = await startBackends();
  const dbUrl = new URL(backends.db.url);
  db = await startTcpProxy(Number(dbUrl.port || 3306));
  s3 = await startTcpProxy(Number(new URL(backends.s3.endpoint).port));
  dbUrl.port = String(db.port);
  svc = await startTestService({
    ...backends,
    env: {
      DATABASE_URL: dbUrl.toString(),
      S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      DB_QUERY_TIMEOUT_MS: "1000",
      S3_REQUEST_TIMEOUT_MS: "1000",
      CALL_TIMEOUT_MS: "1200",
      HEALTH_INTERVAL_MS: "200",
      PROCESSING_CONCURRENCY: "0",
      TASK_CONCURRENCY: "0",
    },
  });
});

afterAll(async () => {
  db?.resume();
  s3?.resume();
  await svc?.stop();
  await Promise.all([db?.close(), s3?.close()]);
  await backends?.stop();
});

async function timed<T>(call: Promise<T>): Promise<{ ms: number; outcome: T | unknown }> {
  const started = performance.now();
  const outcome = await call.catch((e: unknown) => e);
  return { ms: performance.now() - started, outcome };
}

const readyz = async () => (await fetch(`${svc.httpUrl}/readyz`)).status;

describe("a stalled dependency", () => {
  it("database: Unavailable within its bound, not-ready meanwhile, all well after", async () => {
    const owner = "stalled-db";
    const client = svc.serviceClient();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(pngLikeBytes(64))] });
    db.pause();
    try {
      const { ms, outcome } = await timed(client.getFile({ ownerId: owner, fileId: uploads[0]!.fileId }));
      expect((outcome as { code?: Code }).code).toBe(Code.Unavailable);
      expect((outcome as Error).message).toContain("database is unavailable, retry later");
      expect(ms).toBeLessThan(3_000); // the bound is 1 s; generous for a loaded machine
      await expect.poll(readyz, { timeout: 10_000 }).toBe(503);
    } finally {
      db.resume();
    }
    await expect.poll(readyz, { timeout: 10_000 }).toBe(200);
    expect((await client.getFile({ ownerId: owner, fileId: uploads[0]!.fileId })).file?.id).toBe(uploads[0]!.fileId);
  });

  it("object store: ConfirmUpload is Unavailable within its bound, the file stays pending", async () => {
    const owner = "stalled-s3";
    const client = svc.serviceClient();
    const bytes = pngLikeBytes(64);
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);
    s3.pause();
    try {
      const { ms, outcome } = await timed(client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] }));
      expect((outcome as { code?: Code }).code).toBe(Code.Unavailable);
      expect(ms).toBeLessThan(3_000); // the bound is 1 s for the HEAD, both attempts together; generous for a loaded machine
    } finally {
      s3.resume();
    }
    const error = await rpcError(client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId] }));
    expect(error.code).toBe(Code.FailedPrecondition); // still pending: nothing half-done
    const ok = await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    expect(ok.failures).toEqual([]);
  });

  it("the caller's deadline, shorter than the bound, ends the wait: DeadlineExceeded at the deadline, not Unavailable at the bound", async () => {
    const owner = "deadline-user";
    const client = svc.serviceClient();
    const bytes = pngLikeBytes(64);
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    const fileId = uploads[0]!.fileId;
    await putUpload(uploads[0]!, bytes);
    const token = await svc.userToken(owner);
    // Raw Connect: no client-side timer, so what answers at the deadline is the server.
    const call = async (method: string, body: unknown) => {
      const started = performance.now();
      const response = await fetch(`${svc.httpUrl}/file.v1.FileService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": "250", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return { ms: performance.now() - started, status: response.status, body: (await response.json()) as { code: string; message: string } };
    };

    db.pause();
    try {
      const read = await call("GetFile", { fileId });
      expect(read.body).toEqual({ code: "deadline_exceeded", message: "the call's deadline passed while waiting for the database" });
      expect(read.ms).toBeLessThan(900); // the deadline is 250 ms, the database's bound 1 s
    } finally {
      db.resume();
    }
    s3.pause();
    try {
      const confirm = await call("ConfirmUpload", { fileIds: [fileId] });
      expect(confirm.body).toEqual({ code: "deadline_exceeded", message: "the call's deadline passed while waiting for the object store" });
      expect(confirm.ms).toBeLessThan(900); // S3's bound is 1 s, tried twice
    } finally {
      s3.resume();
    }
    // Nothing half-done: the file confirms once the store answers.
    expect((await client.confirmUpload({ ownerId: owner, fileIds: [fileId] })).failures).toEqual([]);
  });

  it("a slow object store (each request within its bound, not all of them): Unavailable at CALL_TIMEOUT_MS, nothing half-done", async () => {
    const owner = "slow-s3";
    const client = svc.serviceClient();
    const upload = async () =>
      client.uploadFile({ ownerId: owner, filename: "cover.png", contentType: "image/png", purpose: FilePurpose.COVER_PHOTO, data: await solid(64, 64, "png") });
    // Each S3 answer held 700 ms, within its 1 s bound: the variants' PUTs (in parallel), then the
    // original's, take 1.4 s at least, past the call's 1.2 s.
    s3.delay(700);
    let outcome;
    try {
      outcome = await timed(upload());
    } finally {
      s3.delay(0);
    }
    expect((outcome.outcome as { code?: Code }).code).toBe(Code.Unavailable);
    expect((outcome.outcome as Error).message).toContain("object store did not answer within the call's time limit, retry later");
    expect(outcome.ms).toBeLessThan(2_400); // the call's bound is 1.2 s; generous for a loaded machine
    // Nothing half-done: no file for the owner; the same upload then goes through.
    expect((await client.listFiles({ ownerId: owner })).files).toEqual([]);
    const { file } = await upload();
    expect(file?.variants.length).toBeGreaterThan(0);
    expect((await client.listFiles({ ownerId: owner })).files.map((f) => f.id)).toEqual([file!.id]);
  });
});
