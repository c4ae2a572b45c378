// The core product flow, as the hangout backend drives it over gRPC + mTLS:
// reserve → PUT straight to S3 → confirm → read → download → list → delete.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { codeOf } from "../support/rpc.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConfirmFailureCode, FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { fileSpec, jpegLikeBytes, md5Base64, pngLikeBytes, putUpload } from "../support/upload.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.stop();
});
describe("presigned upload lifecycle over gRPC + mTLS", () => {
  it("uploads, confirms, reads, downloads, lists and deletes", async () => {
    const client = svc.serviceClient();
    const owner = "user-lifecycle";
    const a = pngLikeBytes(2048);
    const b = jpegLikeBytes(5000);

    const before = Date.now();
    const { uploads } = await client.generateUploadURLs({
      ownerId: owner,
      files: [fileSpec(a, "../../etc/Holiday pic.PNG"), fileSpec(b, "b.jpg", "image/jpeg")],
    });
    expect(uploads).toHaveLength(2);
    for (const u of uploads) {
      expect(u.method).toBe("PUT");
      expect(u.fileId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/); // UUIDv7
      expect(u.url).not.toContain("Holiday"); // the key never carries the user's filename
      const expires = timestampDate(u.expiresAt!).getTime();
      expect(expires).toBeGreaterThanOrEqual(before + 899_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 901_000);
      expect(Object.keys(u.headers).map((h) => h.toLowerCase()).sort()).toEqual([
        "content-length",
        "content-md5",
        "content-type",
        "x-amz-server-side-encryption",
      ]);
      expect(u.headers["x-amz-server-side-encryption"]).toBe("AES256");
    }
    expect(uploads[0]!.headers["Content-MD5"]).toBe(md5Base64(a));

    // Pending until confirmed.
    const pending = await client.getFile({ ownerId: owner, fileId: uploads[0]!.fileId });
    expect(pending.file?.status).toBe(FileStatus.PENDING);
    expect(pending.file?.filename).toBe("Holiday pic.PNG");
    expect(await codeOf(client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId] }))).toBe(
      Code.FailedPrecondition,
    );

    for (const [i, bytes] of [a, b].entries()) {
      const res = await putUpload(uploads[i]!, bytes);
      expect(res.status).toBe(200);
    }

    const confirmed = await client.confirmUpload({ ownerId: owner, fileIds: uploads.map((u) => u.fileId) });
    expect(confirmed.failures).toEqual([]);
    expect(confirmed.files.map((f) => f.id)).toEqual(uploads.map((u) => u.fileId));
    expect(confirmed.files.every((f) => f.status === FileStatus.UPLOADED && f.uploadedAt !== undefined)).toBe(true);
    expect(confirmed.files[1]!.sizeBytes).toBe(5000n);
    expect(confirmed.files[1]!.md5).toBe(md5Base64(b));

    // Confirming again is a success and changes nothing.
    const again = await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    expect(again.failures).toEqual([]);
    expect(again.files[0]!.uploadedAt).toEqual(confirmed.files[0]!.uploadedAt);

    const batch = await client.batchGetFiles({
      ownerId: owner,
      fileIds: [uploads[1]!.fileId, "0190a000-0000-7000-8000-000000000000", uploads[0]!.fileId],
    });
    expect(batch.files.map((f) => f.id)).toEqual([uploads[1]!.fileId, uploads[0]!.fileId]);
    expect(batch.notFoundIds).toEqual(["0190a000-0000-7000-8000-000000000000"]);

    const { urls } = await client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId], attachment: true });
    const download = await fetch(urls[0]!.url);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(a)).toBe(true);
    const disposition = new URL(urls[0]!.url).searchParams.get("response-content-disposition");
    expect(disposition).toBe(`attachment; filename="Holiday pic.PNG"`);
    expect(new URL(urls[0]!.url).searchParams.get("response-content-type")).toBe("image/png");

    const listed = await client.listFiles({ ownerId: owner });
    expect(listed.files.map((f) => f.id)).toEqual([uploads[1]!.fileId, uploads[0]!.fileId]); // newest first

    const deleted = await client.deleteFile({ ownerId: owner, fileId: uploads[0]!.fileId });
    expect(deleted.file?.status).toBe(FileStatus.DELETED);
    expect(deleted.file?.deletedAt).toBeDefined();
    const record = (await svc.files.findByIds(owner, [uploads[0]!.fileId]))[0]!;
    // The purge runs in the background, queued with the delete.
    await expect.poll(() => svc.objects.head(record.objectKey), { timeout: 10_000 }).toBeNull();
    // Deleting again succeeds; a deleted file cannot be downloaded or confirmed.
    await client.deleteFile({ ownerId: owner, fileId: uploads[0]!.fileId });
    expect(await codeOf(client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId] }))).toBe(
      Code.FailedPrecondition,
    );
    const reconfirm = await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    expect(reconfirm.failures.map((f) => f.code)).toEqual([ConfirmFailureCode.DELETED]);
    // Deleted files leave the default listing, but a status filter finds them.
    expect((await client.listFiles({ ownerId: owner })).files.map((f) => f.id)).toEqual([uploads[1]!.fileId]);
    expect(
      (await client.listFiles({ ownerId: owner, status: FileStatus.DELETED })).files.map((f) => f.id),
    ).toEqual([uploads[0]!.fileId]);
  });

  it("reports per file what is wrong with an upload, and removes bytes that do not match", async () => {
    const client = svc.serviceClient();
    const owner = "user-mismatch";
    const declared = pngLikeBytes(4096);
    const { uploads } = await client.generateUploadURLs({
      ownerId: owner,
      files: [fileSpec(declared), fileSpec(declared), fileSpec(declared), fileSpec(declared)],
    });
    const [good, wrongBytes, wrongSize, missing] = uploads;

    expect((await putUpload(good!, declared)).status).toBe(200);
    // Same length, other bytes: only the MD5 can tell (s3rver does not check Content-MD5; we must).
    expect((await putUpload(wrongBytes!, pngLikeBytes(4096))).status).toBe(200);
    // Another length (sent with its own Content-Length, as a misbehaving client would).
    expect((await putUpload(wrongSize!, pngLikeBytes(4000), { omitHeaders: ["content-length"] })).status).toBe(200);

    const res = await client.confirmUpload({ ownerId: owner, fileIds: uploads.map((u) => u.fileId) });
    expect(res.files.map((f) => f.id)).toEqual([good!.fileId]);
    expect(res.failures.map((f) => [f.fileId, f.code])).toEqual([
      [wrongBytes!.fileId, ConfirmFailureCode.MD5_MISMATCH],
      [wrongSize!.fileId, ConfirmFailureCode.SIZE_MISMATCH],
      [missing!.fileId, ConfirmFailureCode.OBJECT_MISSING],
    ]);
    expect(res.failures[1]!.reason).toContain("4000 bytes were uploaded but 4096 were declared");

    // The mismatching objects are gone and their files still pending, so the client can retry.
    const records = new Map((await svc.files.findByIds(owner, uploads.map((u) => u.fileId))).map((r) => [r.id, r]));
    expect(await svc.objects.head(records.get(wrongBytes!.fileId)!.objectKey)).toBeNull();
    expect(await svc.objects.head(records.get(wrongSize!.fileId)!.objectKey)).toBeNull();
    expect(records.get(wrongBytes!.fileId)!.status).toBe("pending");
    expect(await svc.objects.head(records.get(good!.fileId)!.objectKey)).not.toBeNull();

    // Retrying with the right bytes on the same URL works.
    expect((await putUpload(wrongBytes!, declared)).status).toBe(200);
    const retry = await client.confirmUpload({ ownerId: owner, fileIds: [wrongBytes!.fileId] });
    expect(retry.failures).toEqual([]);
    expect(retry.files[0]!.status).toBe(FileStatus.UPLOADED);
  });

  it("batch-deletes and lists what could not be deleted", async () => {
    const client = svc.serviceClient();
    const owner = "user-batch-delete";
    const bytes = pngLikeBytes(100);
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes), fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);
    await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
    const unknown = "0190a000-0000-7000-8000-00000000beef";

    const res = await client.batchDeleteFiles({ ownerId: owner, fileIds: [uploads[0]!.fileId, uploads[1]!.fileId, unknown] });
    expect(res.deletedCount).toBe(2);
    expect(res.failedIds).toEqual([unknown]);
    const records = await svc.files.findByIds(owner, uploads.map((u) => u.fileId));
    expect(records.map((r) => r.status)).toEqual(["deleted", "deleted"]);
    await expect.poll(() => svc.objects.head(records.find((r) => r.id === uploads[0]!.fileId)!.objectKey), { timeout: 10_000 }).toBeNull();
  });

  it("pages through a listing with opaque tokens", async () => {
    const client = svc.serviceClient();
    const owner = "user-paging";
    const bytes = pngLikeBytes(10);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { uploads } = await client.generateUploadURLs({
        ownerId: owner,
        files: Array.from({ length: 5 }, () => fileSpec(bytes)),
      });
      ids.push(...uploads.map((u) => u.fileId));
    }
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await client.listFiles({ ownerId: owner, pageSize: 4, pageToken });
      seen.push(...page.files.map((f) => f.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBe(4);
    expect(seen).toEqual([...ids].sort().reverse());

    // A token is bound to its filter.
    const first = await client.listFiles({ ownerId: owner, pageSize: 4 });
    expect(
      await codeOf(client.listFiles({ ownerId: owner, pageSize: 4, pageToken: first.nextPageToken, status: FileStatus.UPLOADED })),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(client.listFiles({ ownerId: owner, pageToken: "garbage" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.listFiles({ ownerId: owner, pageSize: 1001 }))).toBe(Code.InvalidArgument);
  });
});
