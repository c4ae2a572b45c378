// Idempotent GenerateUploadURLs, in process: a retry with the same key gets
// the same files and creates nothing; another request with it is refused; a
// key whose files moved on cannot hand out upload URLs again.
import { afterEach, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";
import { solid } from "../support/images.js";

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const owner = "owner-idem";
const all = ["pending", "uploaded", "deleted", "expired"] as const;

describe("GenerateUploadURLs with an idempotency key", () => {
  it("answers a retry with the same files, freshly signed, and creates no rows", async () => {
    h = await startInProcess();
    const client = h.asService();
    const files = [fileSpec(pngLikeBytes(100), "a.png"), fileSpec(pngLikeBytes(200), "b.png")];
    const first = await client.generateUploadURLs({ ownerId: owner, files, idempotencyKey: "memory-42" });
    const [again, concurrent] = await Promise.all([
      client.generateUploadURLs({ ownerId: owner, files, idempotencyKey: "memory-42" }),
      client.generateUploadURLs({ ownerId: owner, files, idempotencyKey: "memory-42" }),
    ]);
    const ids = first.uploads.map((u) => u.fileId);
    expect(again.uploads.map((u) => u.fileId)).toEqual(ids);
    expect(concurrent.uploads.map((u) => u.fileId)).toEqual(ids);
    expect(again.uploads[0]!.headers).toEqual(first.uploads[0]!.headers);
    expect(await h.files.list({ ownerId: owner, statuses: all, limit: 10 })).toHaveLength(2);
    // The URLs still take the bytes.
    await h.put(again.uploads[0]!, pngLikeBytes(100));

    // Without a key, or with another one: new files.
    const other = await client.generateUploadURLs({ ownerId: owner, files, idempotencyKey: "memory-43" });
    expect(other.uploads.map((u) => u.fileId)).not.toEqual(ids);
    // Another owner's key is another key.
    const elsewhere = await client.generateUploadURLs({ ownerId: "owner-idem-2", files, idempotencyKey: "memory-42" });
    expect(elsewhere.uploads.map((u) => u.fileId)).not.toEqual(ids);
  });

  it("refuses the same key with another request, naming the key", async () => {
    h = await startInProcess();
    const client = h.asService();
    await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(pngLikeBytes(100))], idempotencyKey: "k1" });
    const error = await rpcError(client.generateUploadURLs({ ownerId: owner, files: [fileSpec(pngLikeBytes(101))], idempotencyKey: "k1" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe('idempotency_key: "k1" was used for another request; use a new key for a new request');
    const long = await rpcError(client.generateUploadURLs({ ownerId: owner, files: [fileSpec(pngLikeBytes(100))], idempotencyKey: "x".repeat(129) }));
    expect(long.rawMessage).toBe("idempotency_key: must be at most 128 characters");
    expect(await h.files.list({ ownerId: owner, statuses: all, limit: 10 })).toHaveLength(1);
  });

  it("will not sign again for files that moved on, and frees a key once its window passed", async () => {
    h = await startInProcess({ deps: { now: () => clock } });
    let clock = new Date("2026-12-05T10:00:00Z");
    const client = h.asService();
    const bytes = pngLikeBytes(100);
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)], idempotencyKey: "k2" });
    await h.put(uploads[0]!, bytes);
    await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    const error = await rpcError(client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)], idempotencyKey: "k2" }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain(`made file ${uploads[0]!.fileId}, which is uploaded now`);

    clock = new Date(clock.getTime() + 86_400_000 + 1);
    const fresh = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)], idempotencyKey: "k2" });
    expect(fresh.uploads[0]!.fileId).not.toBe(uploads[0]!.fileId);
  });
});

describe("UploadFile with an idempotency key", () => {
  it("answers a retry with the file the first call made, storing nothing new; another request with the key is refused", async () => {
    h = await startInProcess();
    const client = h.asService();
    const data = await solid(40, 40, "png");
    const request = { ownerId: owner, filename: "p.png", contentType: "image/png", data, idempotencyKey: "up-1" };
    const first = await client.uploadFile(request);
    const again = await client.uploadFile(request);
    expect(again.file?.id).toBe(first.file?.id);
    expect(await h.files.list({ ownerId: owner, statuses: all, limit: 10 })).toHaveLength(1);
    const other = await rpcError(client.uploadFile({ ...request, data: await solid(41, 40, "png") }));
    expect(other.code).toBe(Code.InvalidArgument);
    expect(other.rawMessage).toContain('idempotency_key: "up-1" was used for another request');
  });
});
