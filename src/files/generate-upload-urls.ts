// GenerateUploadURLs: validate every file of the batch, presign a PUT for each,
// record them all as pending in one statement. All or nothing.
import type { FilePurpose, NewFileRecord } from "../domain/file.js";
import { FileError, IdempotencyConflictError } from "../domain/errors.js";
import { earlierCall, fingerprintOf } from "./idempotency.js";
import type { PresignedRequest } from "../storage/object-store.js";
import { objectKeyFor } from "../storage/object-keys.js";
import { checkBatchSize, checkFileToUpload, type FileToUploadInput, type ValidFileToUpload } from "./upload-rules.js";
import { purposeFromProto, unknownPurposeMessage } from "./purposes.js";
import { newFileId } from "./file-ids.js";
import { recordsById, type UseCaseDeps } from "./use-case-deps.js";

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
  idempotencyKey?: string,
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
  const idempotency = idempotencyKey === undefined ? undefined : { key: idempotencyKey, fingerprint: fingerprintOf(requested) };
  const call = idempotency && { ownerId, ...idempotency, now: createdAt, windowSeconds: settings.idempotencyWindowSeconds };
  if (call) {
    const earlier = await earlierCall(deps.files, call);
    if (earlier) return signAgain(deps, ownerId, earlier, call.key);
  }
  // Both stored with the row: a later change of settings never moves an expiry.
  const uploadExpiresAt = new Date(createdAt.getTime() + settings.uploadUrlTtlSeconds * 1000);
  const expireDueAt = new Date(uploadExpiresAt.getTime() + settings.uploadExpiryGraceSeconds * 1000);
  const records = valid.map((file) => {
    const id = newFileId();
    return { ...file, id, ownerId, objectKey: objectKeyFor(id), createdAt, uploadExpiresAt, expireDueAt };
  });
  const keyed = records.map((r, seq) => (idempotency ? { ...r, idempotency: { ...idempotency, seq } } : r));
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
  try {
    await deps.files.insertPending(keyed);
  } catch (e) {
    // A concurrent retry with the same key inserted first: answer with its files.
    if (!(e instanceof IdempotencyConflictError) || !call) throw e;
    const earlier = await earlierCall(deps.files, call);
    if (!earlier) throw e;
    return signAgain(deps, ownerId, earlier, call.key);
  }
  return records.map((record, i) => ({ record, upload: uploads[i]! }));
}

/** The earlier call's files, with freshly signed URLs, as long as they still wait for their bytes. */
async function signAgain(
  deps: Pick<UseCaseDeps, "files" | "objects" | "settings">,
  ownerId: string,
  ids: readonly string[],
  key: string,
): Promise<ReservedUpload[]> {
  const records = await recordsById(deps.files, ownerId, ids);
  return Promise.all(
    ids.map(async (id) => {
      const record = records.get(id);
      if (record?.status !== "pending") {
        throw new FileError("failed_precondition", `idempotency_key: "${key}" made file ${id}, which is ${record?.status ?? "gone"} now: use a new key for a new upload`);
      }
      const upload = await deps.objects.presignPut({
        key: record.objectKey,
        contentType: record.contentType,
        contentLength: record.sizeBytes,
        contentMd5: record.md5,
        expiresInSeconds: deps.settings.uploadUrlTtlSeconds,
      });
      return { record, upload };
    }),
  );
}
