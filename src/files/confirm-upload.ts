// ConfirmUpload: check each pending file's object (present, the declared size,
// MD5 and type), mark the passing ones uploaded with their processing queued
// (one change: see FileRepository.markUploaded).
// Objects that are not what was declared are removed, so the client can PUT
// the right bytes to the same URL (valid until it expires) and confirm again.
import type { FileRecord } from "../domain/file.js";
import { verifyUploadedObject, type ConfirmProblem } from "./confirm-checks.js";
import { recordsById, type UseCaseDeps } from "./use-case-deps.js";

export interface ConfirmFailure {
  fileId: string;
  code: ConfirmProblem;
  /** For a person. */
  reason: string;
}

export interface ConfirmResult {
  /** Uploaded now, including files that already were; in request order. */
  confirmed: FileRecord[];
  /** In request order. */
  failures: ConfirmFailure[];
}

export async function confirmUpload(
  deps: Pick<UseCaseDeps, "files" | "objects" | "processing" | "now" | "onUploaded" | "scanner">,
  ownerId: string,
  ids: readonly string[],
): Promise<ConfirmResult> {
  const { files, objects } = deps;
  const records = await recordsById(files, ownerId, ids);
  const failures: ConfirmFailure[] = [];
  const fail = (fileId: string, code: ConfirmProblem, reason: string) => failures.push({ fileId, code, reason });

  const toCheck: FileRecord[] = [];
  for (const id of ids) {
    const record = records.get(id);
    if (record === undefined) fail(id, "not_found", `file ${id} not found`);
    else if (record.status === "deleted") fail(id, "deleted", `file ${id} was deleted`);
    else if (record.status === "expired") {
      const when = record.uploadExpiresAt ? ` (its upload URL expired at ${record.uploadExpiresAt.toISOString()})` : "";
      fail(id, "expired", `file ${id} expired: it was not confirmed in time${when}; ask for a new upload URL`);
    } else if (record.status === "pending") toCheck.push(record);
    // Already uploaded: confirming again is a success, no need to look at the object.
  }
  // Uploaded before processing was queued with the upload (an older release, a
  // lost write): confirming again queues it.
  const unqueued = ids.filter((id) => records.get(id)?.status === "uploaded" && records.get(id)?.processingStatus === "pending");
  if (unqueued.length > 0 && (await files.requeueUnqueued(ownerId, unqueued, deps.now())) > 0) deps.processing.notify();

  const verified = await Promise.all(toCheck.map((record) => verifyUploadedObject(objects, record)));
  const passed: string[] = [];
  verified.forEach((problem, i) => {
    const record = toCheck[i]!;
    if (problem === undefined) passed.push(record.id);
    else fail(record.id, problem.code, problem.reason);
  });
  const rejectedKeys = toCheck.filter((_, i) => verified[i]?.remove === true).map((r) => r.objectKey);
  if (rejectedKeys.length > 0) await objects.delete(rejectedKeys);

  if (passed.length > 0) {
    const at = deps.now();
    // Uploaded and queued for processing in one change: variants are made in
    // the background, ConfirmUpload returns at once.
    await files.markUploaded(ownerId, passed, at, { scan: deps.scanner !== undefined });
    deps.processing.notify();
  }

  // Re-read so the answer reflects what is stored, even if a delete raced with us.
  const confirmedIds = ids.filter((id) => passed.includes(id) || records.get(id)?.status === "uploaded");
  const after = await recordsById(files, ownerId, confirmedIds);
  const confirmed: FileRecord[] = [];
  for (const id of confirmedIds) {
    const record = after.get(id);
    if (record?.status === "uploaded") confirmed.push(record);
    else fail(id, "deleted", `file ${id} was deleted`);
  }
  const newBytes = confirmed.filter((r) => passed.includes(r.id)).reduce((sum, r) => sum + r.sizeBytes, 0);
  if (newBytes > 0) deps.onUploaded?.(newBytes);
  const order = new Map(ids.map((id, i) => [id, i]));
  failures.sort((a, b) => order.get(a.fileId)! - order.get(b.fileId)!);
  return { confirmed, failures };
}
