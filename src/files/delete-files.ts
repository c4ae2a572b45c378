// DeleteFile and BatchDeleteFiles: the row says deleted, and the purge of the
// original and every variant is queued with it (FileRepository.markDeleted), so
// the answer is OK even while the store is down: the purge task is retried until
// it answers. Once the row says deleted nobody gets a URL for the bytes.
import type { FileRecord } from "../domain/file.js";
import { ownedFile, recordsById, type UseCaseDeps } from "./use-case-deps.js";

type DeleteDeps = Pick<UseCaseDeps, "files" | "now">;

export async function deleteFile(deps: DeleteDeps, ownerId: string, fileId: string): Promise<FileRecord> {
  await ownedFile(deps.files, ownerId, fileId);
  await deps.files.markDeleted(ownerId, [fileId], deps.now());
  return ownedFile(deps.files, ownerId, fileId);
}

export async function deleteFiles(deps: DeleteDeps, ownerId: string, ids: readonly string[]): Promise<{ deletedCount: number; failedIds: string[] }> {
  const records = await recordsById(deps.files, ownerId, ids);
  const found = ids.filter((id) => records.has(id));
  if (found.length > 0) await deps.files.markDeleted(ownerId, found, deps.now());
  // Unknown (or another owner's) ids are the only failures: the rest is deleted, purged in the background.
  const failedIds = ids.filter((id) => !records.has(id));
  return { deletedCount: ids.length - failedIds.length, failedIds };
}
