// GenerateUploadURLs: validate every file of the batch, presign a PUT for each,
// record them all as pending in one statement. All or nothing.
import type { FilePurpose, NewFileRecord } from "../domain/file.js";
import { FileError } from "../domain/errors.js";
import type { PresignedRequest } from "../storage/object-store.js";
import { objectKeyFor } from "../storage/object-keys.js";
import { checkBatchSize, checkFileToUpload, type FileToUploadInput, type ValidFileToUpload } from "./upload-rules.js";
import { purposeFromProto, unknownPurposeMessage } from "./purposes.js";
import { newFileId } from "./file-ids.js";
import type { UseCaseDeps } from "./use-case-deps.js";

export interface FileToUploadRequest extends FileToUploadInput {
  /** The contract's FilePurpose number. */
  purpose: number;
}

export interface ReservedUpload {
  record: NewFileRecord;
  upload: PresignedRequest;
}

export async function generateUploadUrls(
  deps: Pick<UseCaseDeps, "files" | "objects" | "settings" | "now">,
  ownerId: string,
  requested: readonly FileToUploadRequest[],
): Promise<ReservedUpload[]> {
  const { settings } = deps;
  const batchProblem = checkBatchSize(requested.length, settings);
  if (batchProblem !== undefined) throw new FileError("invalid_argument", batchProblem);

  const valid: Array<ValidFileToUpload & { purpose: FilePurpose }> = [];
  const violations: string[] = [];
  requested.forEach((file, i) => {
    const purpose = purposeFromProto(file.purpose);
    if (purpose === undefined) {
      violations.push(unknownPurposeMessage(`files[${i}].purpose`, file.purpose));
      return;
    }
    const checked = checkFileToUpload(file, `files[${i}]`, purpose, settings);
    if (checked.ok) valid.push({ ...checked.value, purpose });
    else violations.push(...checked.violations);
  });
  if (violations.length > 0) throw new FileError("invalid_argument", violations.join("; "));

  const createdAt = deps.now();
  // Both stored with the row: a later change of settings never moves an expiry.
  const uploadExpiresAt = new Date(createdAt.getTime() + settings.uploadUrlTtlSeconds * 1000);
  const expireDueAt = new Date(uploadExpiresAt.getTime() + settings.uploadExpiryGraceSeconds * 1000);
  const records = valid.map((file) => {
    const id = newFileId();
    return { ...file, id, ownerId, objectKey: objectKeyFor(id), createdAt, uploadExpiresAt, expireDueAt };
  });
  // Sign first: it cannot leave anything behind, while the insert is the commit point.
  const uploads = await Promise.all(
    records.map((r) =>
      deps.objects.presignPut({
        key: r.objectKey,
        contentType: r.contentType,
        contentLength: r.sizeBytes,
        contentMd5: r.md5,
        expiresInSeconds: settings.uploadUrlTtlSeconds,
      }),
    ),
  );
  await deps.files.insertPending(records);
  return records.map((record, i) => ({ record, upload: uploads[i]! }));
}
