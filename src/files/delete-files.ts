// DeleteFile and BatchDeleteFiles: the row first (once it says deleted, nobody
// gets a URL for the bytes), then the original and every variant. Removing
// objects is idempotent, so a retry after a failure finishes the job.
import type { FileRecord } from "../domain/file.js";
import { FileError } from "../domain/errors.js";
import { objectKeysOf, ownedFile, recordsById, type UseCaseDeps } from "./use-case-deps.js";

export async function deleteFile(deps: Pick<UseCaseDeps, "files" | "objects" | "now">, ownerId: string, fileId: string): Promise<FileRecord> {
  const record = await ownedFile(deps.files, ownerId, fileId);
  await deps.files.markDeleted(ownerId, [fileId], deps.now());
  const failed = await deps.objects.delete(objectKeysOf(record));
  if (failed.length > 0) {
    throw new FileError("unavailable", `file ${fileId} is deleted but its bytes could not be removed yet: retry`);
  }
  return ownedFile(deps.files, ownerId, fileId);
}

export async function deleteFiles(
  deps: Pick<UseCaseDeps, "files" | "objects" | "now">,
  ownerId: string,
  ids: readonly string[],
): Promise<{ deletedCount: number; failedIds: string[] }> {
  const records = await recordsById(deps.files, ownerId, ids);
  const found = ids.filter((id) => records.has(id));
  if (found.length > 0) await deps.files.markDeleted(ownerId, found, deps.now());
  const failedKeys = new Set(await deps.objects.delete(found.flatMap((id) => objectKeysOf(records.get(id)!))));
  const failedIds = ids.filter((id) => {
    const record = records.get(id);
    return record === undefined || objectKeysOf(record).some((key) => failedKeys.has(key));
  });
  return { deletedCount: ids.length - failedIds.length, failedIds };
}
