// ConfirmUpload in process (the real handlers on SQLite and the local store,
// no socket): what it checks of each uploaded object, what it removes, what it
// records, and what it leaves for the client to retry.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ConfirmFailureCode, FilePurpose, FileStatus, ProcessingStatus } from "../../gen/file/v1/file_service_pb.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { fileSpec, md5Base64, pngLikeBytes } from "../support/upload.js";
import { htmlBytes } from "../support/images.js";
import { rpcError } from "../support/rpc.js";

let h: InProcess;
beforeEach(async () => {
  h = await startInProcess();
});
afterEach(async () => {
  await h?.close();
});

const owner = "owner-confirm";

/** One presigned upload for `bytes` (a PNG unless said otherwise). */
async function reserve(bytes: Uint8Array, spec = fileSpec(bytes)) {
  const { uploads } = await h.asService().generateUploadURLs({ ownerId: owner, files: [{ ...spec, purpose: FilePurpose.POST_ATTACHMENT }] });
  return uploads[0]!;
}

const confirm = (...fileIds: string[]) => h.asService().confirmUpload({ ownerId: owner, fileIds });

describe("ConfirmUpload", () => {
  it("marks an upload whose bytes are as declared uploaded, and queues its processing", async () => {
    const bytes = pngLikeBytes(2048);
    const upload = await reserve(bytes);
    expect((await h.put(upload, bytes)).ok).toBe(true);

    const { files, failures } = await confirm(upload.fileId);
    expect(failures).toEqual([]);
    expect(files.map((f) => [f.id, f.status, f.processingStatus])).toEqual([[upload.fileId, FileStatus.UPLOADED, ProcessingStatus.PENDING]]);
    // Queued: a worker can claim the job now.
    const jobs = await h.files.claimProcessing({ workerId: "w", leaseMs: 1000, limit: 10, now: new Date(Date.now() + 1) });
    expect(jobs.map((j) => j.fileId)).toEqual([upload.fileId]);
  });

  it("leaves a file whose bytes were never PUT pending, to be confirmed later", async () => {
    const upload = await reserve(pngLikeBytes(100));
    const { files, failures } = await confirm(upload.fileId);
    expect(files).toEqual([]);
    expect(failures.map((f) => [f.fileId, f.code])).toEqual([[upload.fileId, ConfirmFailureCode.OBJECT_MISSING]]);
    expect(failures[0]!.reason).toMatch(/PUT the bytes to its upload URL, then confirm/);
    const [record] = await h.files.findByIds(owner, [upload.fileId]);
    expect(record?.status).toBe("pending");
  });

  it("removes an object of another type than declared, and the client can upload the right bytes and confirm again", async () => {
    const right = pngLikeBytes(htmlBytes().length);
    const wrong = htmlBytes(); // same length: only the type differs
    const upload = await reserve(right, { ...fileSpec(right) });
    // The store checks the MD5 it was signed for; a wrong-type object must carry its own.
    const forged = await reserve(wrong, fileSpec(wrong, "page.png", "image/png"));
    expect((await h.put(forged, wrong)).ok).toBe(true);

    const { failures } = await confirm(forged.fileId);
    expect(failures.map((f) => f.code)).toEqual([ConfirmFailureCode.TYPE_MISMATCH]);
    expect(failures[0]!.reason).toMatch(/not an image of an allowed type, not image\/png; the upload was discarded/);
    expect(await h.objects.head(`files/${forged.fileId}/original`)).toBeNull();

    expect((await h.put(upload, right)).ok).toBe(true);
    expect((await confirm(upload.fileId)).files[0]?.status).toBe(FileStatus.UPLOADED);
  });

  it("removes an object of another size or MD5 than declared, as a store that checks nothing would have kept it", async () => {
    // S3-compatible stores such as s3rver check neither the signed length nor
    // Content-MD5: write the wrong bytes straight to the key, as they would.
    const [sized, digested] = [await reserve(pngLikeBytes(600)), await reserve(pngLikeBytes(600))];
    const storeAsIs = async (fileId: string, bytes: Buffer) =>
      h.objects.put({ key: `files/${fileId}/original`, body: bytes, contentType: "image/png", contentLength: bytes.length, md5: md5Base64(bytes) });
    await storeAsIs(sized.fileId, pngLikeBytes(601));
    await storeAsIs(digested.fileId, pngLikeBytes(600));

    const { files, failures } = await confirm(sized.fileId, digested.fileId);
    expect(files).toEqual([]);
    expect(failures.map((f) => [f.fileId, f.code])).toEqual([
      [sized.fileId, ConfirmFailureCode.SIZE_MISMATCH],
      [digested.fileId, ConfirmFailureCode.MD5_MISMATCH],
    ]);
    expect(failures[0]!.reason).toBe(
      `file ${sized.fileId}: 601 bytes were uploaded but 600 were declared; the upload was discarded, upload the declared bytes again`,
    );
    expect(failures[1]!.reason).toMatch(/the uploaded bytes do not match the declared MD5; the upload was discarded/);
    for (const { fileId } of [sized, digested]) {
      expect(await h.objects.head(`files/${fileId}/original`)).toBeNull();
      expect((await h.files.findByIds(owner, [fileId]))[0]?.status).toBe("pending");
    }
  });

  it("reports each id of a batch in request order: confirmed, unknown, deleted, pending", async () => {
    const good = pngLikeBytes(300);
    const [a, b, c] = [await reserve(good), await reserve(pngLikeBytes(300)), await reserve(pngLikeBytes(300))];
    await h.put(a, good);
    await h.asService().deleteFile({ ownerId: owner, fileId: b.fileId });
    const unknown = "0190a000-0000-7000-8000-000000000000";

    const { files, failures } = await confirm(c.fileId, unknown, b.fileId, a.fileId);
    expect(files.map((f) => f.id)).toEqual([a.fileId]);
    expect(failures.map((f) => [f.fileId, f.code])).toEqual([
      [c.fileId, ConfirmFailureCode.OBJECT_MISSING],
      [unknown, ConfirmFailureCode.NOT_FOUND],
      [b.fileId, ConfirmFailureCode.DELETED],
    ]);
  });

  it("confirms an uploaded file again without looking at its object", async () => {
    const bytes = pngLikeBytes(500);
    const upload = await reserve(bytes);
    await h.put(upload, bytes);
    await confirm(upload.fileId);
    // Even with the object gone, a second confirm is a success: the row already says uploaded.
    await h.objects.delete([`files/${upload.fileId}/original`]);
    expect((await confirm(upload.fileId)).files.map((f) => f.id)).toEqual([upload.fileId]);
  });

  it("keeps another owner's file out of reach, and a user to its own files", async () => {
    const bytes = pngLikeBytes(400);
    const upload = await reserve(bytes);
    await h.put(upload, bytes);
    const theirs = await h.asService().confirmUpload({ ownerId: "someone-else", fileIds: [upload.fileId] });
    expect(theirs.failures.map((f) => f.code)).toEqual([ConfirmFailureCode.NOT_FOUND]);
    const user = await rpcError(h.asUser("mallory").confirmUpload({ ownerId: owner, fileIds: [upload.fileId] }));
    expect(user.code).toBe(Code.PermissionDenied);
    expect((await h.asUser(owner).confirmUpload({ fileIds: [upload.fileId] })).files[0]?.ownerId).toBe(owner);
  });
});
