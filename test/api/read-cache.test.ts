// With REDIS_URL, GetFile/BatchGetFiles read through Redis and every change
// invalidates; the answers stay right whatever the cache holds.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { fileSpec, pngLikeBytes, putUpload } from "../support/upload.js";

let svc: TestService;
let redis: Redis;
beforeAll(async () => {
  redis = new Redis("redis://127.0.0.1:6379");
  svc = await startTestService({ env: { REDIS_URL: "redis://127.0.0.1:6379", PROCESSING_CONCURRENCY: "0" } });
});
afterAll(async () => {
  await svc?.stop();
  redis?.disconnect();
});

/** How often the service asked the database for records by id (from its own metrics). */
async function findByIdsCalls(): Promise<number> {
  const text = await (await fetch(`${svc.httpUrl}/metrics`)).text();
  return [...text.matchAll(/dependency_duration_seconds_count\{[^}]*operation="findByIds"[^}]*\} (\d+)/g)]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0);
}

describe("GetFile with a Redis cache", () => {
  it("serves repeated reads from Redis and sees every change at once", async () => {
    const owner = `cache-${randomUUID()}`;
    const client = svc.serviceClient();
    const bytes = pngLikeBytes(300);
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    const fileId = uploads[0]!.fileId;

    expect((await client.getFile({ ownerId: owner, fileId })).file?.status).toBe(FileStatus.PENDING);
    const before = await findByIdsCalls();
    for (let i = 0; i < 5; i++) await client.getFile({ ownerId: owner, fileId });
    await client.batchGetFiles({ ownerId: owner, fileIds: [fileId] });
    // All six from Redis; one read may fall back to the database if a Redis command
    // timed out on a loaded machine (by design). Without the cache this would be +6.
    expect((await findByIdsCalls()) - before).toBeLessThanOrEqual(1);
    expect(await redis.pttl(`file-service:file:${fileId}`)).toBeGreaterThan(3_500_000); // ~1 h TTL

    await putUpload(uploads[0]!, bytes);
    await client.confirmUpload({ ownerId: owner, fileIds: [fileId] });
    expect((await client.getFile({ ownerId: owner, fileId })).file?.status).toBe(FileStatus.UPLOADED);
    await client.deleteFile({ ownerId: owner, fileId });
    expect((await client.getFile({ ownerId: owner, fileId })).file?.status).toBe(FileStatus.DELETED);

    // Another owner never gets the cached record.
    const error = await client.getFile({ ownerId: `${owner}-other`, fileId }).catch((e: unknown) => e);
    expect(String(error)).toContain("not found");
  });
});
