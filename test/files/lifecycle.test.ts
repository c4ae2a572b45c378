// The lifecycle in process: what each state change queues, expiry as a client
// meets it, and the events a sequence produces, in order. The ordering claims
// ("no crash can separate a change from its side effect") are the repository
// contract's; these check the use cases lean on them.
import { afterEach, describe, expect, it } from "vitest";
import { ConfirmFailureCode, FileEventType, FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { Code } from "@connectrpc/connect";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { withFault } from "../support/faults.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { codeOf, rpcError } from "../support/rpc.js";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const owner = "owner-lifecycle";

/** A file uploaded through a presigned PUT and confirmed, on a fresh in-process service. */
async function confirmedFile() {
  const started = await startInProcess();
  h = started;
  const bytes = pngLikeBytes(200);
  const client = started.asService();
  const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
  const id = uploads[0]!.fileId;
  await started.put(uploads[0]!, bytes);
  await client.confirmUpload({ ownerId: owner, fileIds: [id] });
  return { h: started, client, id };
}

describe("the lifecycle", () => {
  it("a crash right after ConfirmUpload's change leaves the file uploaded AND queued: the next worker processes it", async () => {
    let fault: { fired(): boolean } | undefined;
    h = await startInProcess({ wrapFiles: (files) => (fault = withFault(files, { method: "markUploaded", when: "after" })) });
    const bytes = pngLikeBytes(200);
    const client = h.asService();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    await h.put(uploads[0]!, bytes);
    await rpcError(client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] }));
    expect(fault!.fired()).toBe(true);
    const [job] = await h.files.claimProcessing({ workerId: "next", leaseMs: 60_000, limit: 5, now: new Date(Date.now() + 1000) });
    expect(job?.fileId).toBe(uploads[0]!.fileId);
    await h.runTasks();
    expect(h.events.map((e) => [e.type, e.fileId])).toEqual([[FileEventType.UPLOADED, uploads[0]!.fileId]]);
  });

  it("confirming an uploaded file whose processing was never queued queues it", async () => {
    const { h, client, id } = await confirmedFile();
    // As an older release could leave it: uploaded, processing pending, nothing queued.
    const db = createClient({ url: pathToFileURL(join(h.dir, "files.db")).href });
    await db.execute({ sql: "UPDATE files SET processing_due_at = NULL WHERE id = ?", args: [id] });
    db.close();
    const later = () => new Date(Date.now() + 1000);
    expect(await h.files.claimProcessing({ workerId: "w", leaseMs: 60_000, limit: 5, now: later() })).toEqual([]);

    const again = await client.confirmUpload({ ownerId: owner, fileIds: [id] });
    expect(again.files.map((f) => f.id)).toEqual([id]);
    const jobs = await h.files.claimProcessing({ workerId: "w", leaseMs: 60_000, limit: 5, now: later() });
    expect(jobs.map((j) => j.fileId)).toEqual([id]);
  });

  it("expires a file never confirmed: ConfirmUpload says so, GetFile shows it, ListFiles hides it unless asked, no URL", async () => {
    h = await startInProcess({ deps: { settings: { maxFilesPerBatch: 10, maxFileSizeBytes: 1 << 20, maxCoverPhotoSizeBytes: 1 << 20, uploadUrlTtlSeconds: 1, downloadUrlTtlSeconds: 60, uploadExpiryGraceSeconds: 0, idempotencyWindowSeconds: 86400, uploadTmpDir: tmpdir() } } });
    const bytes = pngLikeBytes(200);
    const client = h.asService();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    const id = uploads[0]!.fileId;
    await h.put(uploads[0]!, bytes);
    const [stored] = await h.files.findByIds(owner, [id]);
    expect(stored!.uploadExpiresAt!.getTime() - stored!.createdAt.getTime()).toBe(1000);
    expect(await h.files.expireDue(new Date(stored!.createdAt.getTime() + 999), 10)).toEqual([]);
    const due = new Date(stored!.createdAt.getTime() + 1000);
    expect(await h.files.expireDue(due, 10)).toEqual([id]);
    await h.runTasks(due);
    expect(await h.objects.head(`files/${id}/original`)).toBeNull(); // purged

    const confirm = await client.confirmUpload({ ownerId: owner, fileIds: [id] });
    expect(confirm.failures.map((f) => f.code)).toEqual([ConfirmFailureCode.EXPIRED]);
    expect(confirm.failures[0]!.reason).toMatch(/expired: it was not confirmed in time .*ask for a new upload URL/);
    expect((await client.getFile({ ownerId: owner, fileId: id })).file?.status).toBe(FileStatus.EXPIRED);
    expect((await client.listFiles({ ownerId: owner })).files).toEqual([]);
    expect((await client.listFiles({ ownerId: owner, status: FileStatus.EXPIRED })).files.map((f) => f.id)).toEqual([id]);
    expect(await codeOf(client.getDownloadURLs({ ownerId: owner, fileIds: [id] }))).toBe(Code.FailedPrecondition);
    expect(h.events.map((e) => e.type)).toEqual([FileEventType.EXPIRED]);
  });

  it("publishes a sequence's events in order, each with its own id, the File as it was", async () => {
    const { h, client, id } = await confirmedFile();
    await h.runTasks();
    await client.deleteFile({ ownerId: owner, fileId: id });
    await h.runTasks();
    expect(h.events.map((e) => [e.type, e.fileId, e.ownerId, e.file?.status])).toEqual([
      [FileEventType.UPLOADED, id, owner, FileStatus.UPLOADED],
      [FileEventType.DELETED, id, owner, FileStatus.DELETED],
    ]);
    expect(new Set(h.events.map((e) => e.eventId)).size).toBe(2);
    expect(await h.objects.head(`files/${id}/original`)).toBeNull();
  });
});
