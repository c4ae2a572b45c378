// "The process dies between these two statements", in process: a repository
// or store that fails at a chosen call, then the state is checked as the next
// instance would find it. Each case names what must hold whatever the point.
import { afterEach, describe, expect, it } from "vitest";
import { FilePurpose } from "../../gen/file/v1/file_service_pb.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { withFault } from "../support/faults.js";
import { fileSpec, md5Base64, pngLikeBytes } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";
import { solid } from "../support/images.js";

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const owner = "owner-crash";

describe("a crash", () => {
  it("during GenerateUploadURLs' insert leaves no row (the URLs were only signed)", async () => {
    let fault: { fired(): boolean } | undefined;
    h = await startInProcess({ wrapFiles: (files) => (fault = withFault(files, { method: "insertPending" })) });
    const bytes = pngLikeBytes(100);
    await rpcError(h.asService().generateUploadURLs({ ownerId: owner, files: [{ ...fileSpec(bytes), purpose: FilePurpose.STORY }] }));
    expect(fault!.fired()).toBe(true);
    expect(await h.files.list({ ownerId: owner, statuses: ["pending", "uploaded", "deleted"], limit: 10 })).toEqual([]);
  });

  it("in the store during DeleteFile cannot separate the delete from its purge: OK now, bytes gone when the store answers", async () => {
    let fault: { fired(): boolean } | undefined;
    h = await startInProcess({ wrapObjects: (objects) => (fault = withFault(objects, { method: "delete" })) });
    const bytes = pngLikeBytes(300);
    const client = h.asService();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
    const upload = uploads[0]!;
    await h.put(upload, bytes);
    await client.confirmUpload({ ownerId: owner, fileIds: [upload.fileId] });

    const deleted = await client.deleteFile({ ownerId: owner, fileId: upload.fileId });
    expect(deleted.file?.deletedAt).toBeDefined();
    expect((await h.files.findByIds(owner, [upload.fileId]))[0]?.status).toBe("deleted");
    const t0 = new Date();
    await h.runTasks(t0); // the store refuses the purge: it stays queued
    expect(fault!.fired()).toBe(true);
    expect(await h.objects.head(`files/${upload.fileId}/original`)).not.toBeNull();

    // The store answers again: the queued purge finishes the job, nobody retried anything.
    await h.runTasks(new Date(t0.getTime() + 61_000));
    expect(await h.objects.head(`files/${upload.fileId}/original`)).toBeNull();
    expect(await h.files.listTasks({ status: "failed", limit: 10 })).toEqual([]);
  });
});

describe("an upload through the service", () => {
  it("that dies after its bytes are stored, with every clean-up failing too, leaves a pending row whose expiry removes them", async () => {
    // The row is fulfilled never (a crash), the store refuses the clean-up and so does the database:
    // what a SIGKILL between the PUT and the row would leave.
    h = await startInProcess({
      wrapFiles: (files) => withFault(withFault(files, { method: "fulfilIntent" }), { method: "abandonIntent" }),
      wrapObjects: (objects) => withFault(objects, { method: "delete" }),
    });
    const bytes = await solid(48, 48, "png");
    await rpcError(
      h.asService().uploadFile({ ownerId: owner, filename: "a.png", contentType: "image/png", data: bytes, processing: { async: true, webpQuality: 0 } }),
    );
    const [row] = await h.files.list({ ownerId: owner, statuses: ["pending"], limit: 10 });
    expect(row).toMatchObject({ status: "pending", objectKey: expect.stringMatching(/^files\//) });
    expect(await h.objects.head(row!.objectKey)).not.toBeNull(); // the bytes no row would know of, without the intent

    // A variant it made but never recorded (a synchronous upload killed mid-processing).
    const stray = `files/${row!.id}/thumb`;
    await h.objects.put({ key: stray, body: bytes, contentType: "image/webp", contentLength: bytes.length, md5: md5Base64(bytes) });
    // Its window passes: expired, and the purge removes the bytes.
    const due = new Date(row!.uploadExpiresAt!.getTime() + 3_600_000);
    expect(await h.files.expireDue(due, 10)).toEqual([row!.id]);
    await h.runTasks(due);
    expect(await h.objects.head(row!.objectKey)).toBeNull();
    expect(await h.objects.head(stray)).toBeNull();
  });
});
