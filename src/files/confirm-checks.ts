// What ConfirmUpload checks about an object a client uploaded with a presigned
// URL. Some S3-compatible stores check nothing, so we check again: present,
// the declared size and MD5, and bytes of the declared image type.
import type { FileRecord } from "../domain/file.js";
import type { ObjectStore } from "../storage/object-store.js";
import { SNIFF_BYTES, sniffImageType } from "../media/image-types.js";

/** Why a confirm failed, for a program (the contract's ConfirmFailureCode, in the domain's words). */
export type ConfirmProblem = "not_found" | "deleted" | "expired" | "object_missing" | "size_mismatch" | "md5_mismatch" | "type_mismatch";

export interface ObjectProblem {
  code: ConfirmProblem;
  reason: string;
  /** Whether the object must be removed (its bytes are not what was declared). */
  remove: boolean;
}

/** Undefined when the object is what was declared. */
export async function verifyUploadedObject(objects: ObjectStore, record: FileRecord): Promise<ObjectProblem | undefined> {
  const info = await objects.head(record.objectKey);
  if (info === null) {
    return {
      code: "object_missing",
      reason: `nothing was uploaded for file ${record.id} yet: PUT the bytes to its upload URL, then confirm`,
      remove: false,
    };
  }
  if (info.size !== record.sizeBytes) {
    return {
      code: "size_mismatch",
      reason: `file ${record.id}: ${info.size} bytes were uploaded but ${record.sizeBytes} were declared; the upload was discarded, upload the declared bytes again`,
      remove: true,
    };
  }
  if (info.md5 !== record.md5) {
    return {
      code: "md5_mismatch",
      reason: `file ${record.id}: the uploaded bytes do not match the declared MD5; the upload was discarded, upload the declared bytes again`,
      remove: true,
    };
  }
  // The declared type is only a claim: the first bytes decide.
  const head = await objects.get(record.objectKey, { start: 0, end: SNIFF_BYTES - 1 });
  const actual = head === null ? undefined : await sniffImageType(head);
  if (actual !== record.contentType) {
    return {
      code: "type_mismatch",
      reason: `file ${record.id}: the uploaded bytes are ${actual ?? "not an image of an allowed type"}, not ${record.contentType}; the upload was discarded`,
      remove: true,
    };
  }
  return undefined;
}
