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

  it("keeps a delete retryable when the object cannot be removed", async () => {
    const owner = "s3-down-delete";
    const { uploads } = await healthy.serviceClient().generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);
    await healthy.serviceClient().confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });

    const error = await rpcError(svc.serviceClient().deleteFile({ ownerId: owner, fileId: uploads[0]!.fileId }));
    expect(error.code).toBe(Code.Unavailable);
    // A retry against a working store finishes the job: row deleted, object gone.
    const done = await healthy.serviceClient().deleteFile({ ownerId: owner, fileId: uploads[0]!.fileId });
    expect(done.file?.status).toBe(3 /* DELETED */);
    const record = (await healthy.files.findByIds(owner, [uploads[0]!.fileId]))[0]!;
    expect(await healthy.objects.head(record.objectKey)).toBeNull();
  });
});
