// When MySQL or S3 cannot be reached, callers get Unavailable (retryable) with
// a plain message, health says NOT_SERVING, and nothing is half-done.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { startBackends, startTestService, type Backends, type TestService } from "../support/service.js";
import type { TestDatabase } from "../support/database.js";
import { fileSpec, pngLikeBytes, putUpload } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

let backends: Backends;
beforeAll(async () => {
  backends = await startBackends();
});
afterAll(async () => {
  await backends?.stop();
});

function health(svc: TestService) {
  return createClient(Health, createConnectTransport({ baseUrl: svc.httpUrl, httpVersion: "1.1" })).check({});
}

const bytes = pngLikeBytes(100);

describe("database unreachable", () => {
  let svc: TestService;
  beforeAll(async () => {
    const deadDb: TestDatabase = { ...backends.db, url: "mysql://root:s3cret-pw@127.0.0.1:1/files", drop: async () => {} };
    svc = await startTestService({ ...backends, db: deadDb });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it("answers Unavailable without internals, and health is NOT_SERVING", async () => {
    const error = await rpcError(svc.serviceClient().listFiles({ ownerId: "o" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("database is unavailable, retry later");
    const upload = await rpcError(svc.serviceClient().generateUploadURLs({ ownerId: "o", files: [fileSpec(bytes)] }));
    expect(upload.code).toBe(Code.Unavailable);
    expect(upload.rawMessage).not.toContain("s3cret");
    expect((await health(svc)).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
  });
});

describe("object store unreachable", () => {
  let svc: TestService;
  let healthy: TestService;
  beforeAll(async () => {
    healthy = await startTestService(backends);
    svc = await startTestService({ ...backends, env: { S3_ENDPOINT: "http://127.0.0.1:1" } });
  });
  afterAll(async () => {
    await Promise.all([svc?.stop(), healthy?.stop()]);
  });

  it("answers Unavailable on confirm and leaves the file pending for a retry", async () => {
    const owner = "s3-down";
    const { uploads } = await healthy.serviceClient().generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);

    const error = await rpcError(svc.serviceClient().confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("object store is unavailable, retry later");
    expect((await healthy.files.findByIds(owner, [uploads[0]!.fileId]))[0]?.status).toBe("pending");
    expect((await health(svc)).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);

    // Once S3 is back (the healthy instance), the same confirm succeeds.
    const ok = await healthy.serviceClient().confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    expect(ok.failures).toEqual([]);
  });

});

describe("object store cut during deletes", () => {
  let svc: TestService;
  let s3Link: TcpProxy;
  let direct: TestService; // sees the bucket past the proxy
  beforeAll(async () => {
    direct = await startTestService({ ...backends, env: { TASK_CONCURRENCY: "0", PROCESSING_CONCURRENCY: "0" } }); // no worker of its own
    s3Link = await startTcpProxy(Number(new URL(backends.s3.endpoint).port));
    svc = await startTestService({ ...backends, env: { S3_ENDPOINT: `http://127.0.0.1:${s3Link.port}`, TASK_RETRY_BASE_MS: "200", TASK_RETRY_CAP_MS: "500" } });
  });
  afterAll(async () => {
    await Promise.all([svc?.stop(), direct?.stop()]);
    await s3Link?.close();
  });

  it("answers OK with the store down; the queued purge removes every object once it answers", async () => {
    const owner = "s3-cut-delete";
    const client = svc.serviceClient();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes), fileSpec(bytes)] });
    for (const u of uploads) await putUpload(u, bytes);
    await client.confirmUpload({ ownerId: owner, fileIds: uploads.map((u) => u.fileId) });
    const keys = (await svc.files.findByIds(owner, uploads.map((u) => u.fileId))).map((r) => r.objectKey);

    s3Link.cut();
    const one = await client.deleteFile({ ownerId: owner, fileId: uploads[0]!.fileId });
    expect(one.file?.status).toBe(3 /* DELETED */);
    const batch = await client.batchDeleteFiles({ ownerId: owner, fileIds: [uploads[1]!.fileId] });
    expect(batch).toMatchObject({ deletedCount: 1, failedIds: [] });
    // A deleted file has no URL, whatever the store still holds.
    expect((await rpcError(client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId] }))).code).toBe(Code.FailedPrecondition);
    await new Promise((r) => setTimeout(r, 1_000)); // the purge fails meanwhile, and waits
    for (const key of keys) expect(await direct.objects.head(key)).not.toBeNull();

    s3Link.restore();
    for (const key of keys) await expect.poll(() => direct.objects.head(key), { timeout: 15_000 }).toBeNull();
    expect(await svc.files.listTasks({ status: "failed", limit: 10 })).toEqual([]);
  });
});
