// GetDownloadURLs: presigned GETs for uploaded files, of the original or a
// variant, served inline or as an attachment under the sanitized filename.
// All or nothing: one unusable id fails the call, naming it.
import { create as contentDisposition } from "content-disposition";
import type { FileRecord } from "../domain/file.js";
import { FileError } from "../domain/errors.js";
import { MAX_URL_TTL_SECONDS } from "../storage/object-store.js";
import { recordsById, type UseCaseDeps } from "./use-case-deps.js";

export interface DownloadRequest {
  /** 0 for the default lifetime. */
  expirySeconds: number;
  /** "original" (also when empty) or a variant name. */
  variant: string;
  attachment: boolean;
}

export interface DownloadUrl {
  fileId: string;
  url: string;
  expiresAt: Date;
}

export async function downloadUrls(
  deps: Pick<UseCaseDeps, "files" | "objects" | "settings">,
  ownerId: string,
  ids: readonly string[],
  request: DownloadRequest,
): Promise<DownloadUrl[]> {
  const ttl = request.expirySeconds === 0 ? deps.settings.downloadUrlTtlSeconds : request.expirySeconds;
  if (ttl < 1 || ttl > MAX_URL_TTL_SECONDS) {
    throw new FileError("invalid_argument", `expiry_seconds: must be from 1 to ${MAX_URL_TTL_SECONDS} (7 days), or 0 for the default`);
  }
  const variant = request.variant.trim().toLowerCase() || "original";
  const records = await recordsById(deps.files, ownerId, ids);
  const targets = ids.map((id) => downloadTarget(records.get(id), id, variant, deps.settings.serveUnscanned ?? false));
  return Promise.all(
    targets.map(async (t) => {
      const signed = await deps.objects.presignGet({
        key: t.objectKey,
        expiresInSeconds: ttl,
        contentType: t.contentType,
        contentDisposition: contentDisposition(t.filename, { type: request.attachment ? "attachment" : "inline" }),
      });
      return { fileId: t.id, url: signed.url, expiresAt: signed.expiresAt };
    }),
  );
}

/** Why a file that is not uploaded has no download URL, per status. */
const NOT_SERVED: Record<Exclude<FileRecord["status"], "uploaded">, (id: string, record: FileRecord) => string> = {
  pending: (id) => `file ${id} is pending: upload its bytes and call ConfirmUpload first`,
  deleted: (id) => `file ${id} was deleted`,
  expired: (id) => `file ${id} expired: it was never confirmed in its upload window`,
  quarantined: (id, r) => `file ${id} is quarantined: the malware scan found ${r.scanSignature ?? "a threat"}`,
  missing: (id) => `file ${id} is missing: its bytes are no longer in the store`,
};

function downloadTarget(record: FileRecord | undefined, id: string, variant: string, serveUnscanned: boolean) {
  if (record === undefined) throw new FileError("not_found", `file ${id} not found`);
  if (record.status !== "uploaded") throw new FileError("failed_precondition", NOT_SERVED[record.status](id, record));
  // Fail closed: bytes the scanner has not cleared are not served.
  if (!serveUnscanned && record.scanStatus === "pending") {
    throw new FileError("failed_precondition", `file ${id} is not scanned yet: try again shortly`);
  }
  if (!serveUnscanned && record.scanStatus === "error") {
    throw new FileError("failed_precondition", `file ${id} could not be scanned for malware (${record.scanError ?? "no reason given"}) and is not served`);
  }
  if (variant === "original") {
    return { id, objectKey: record.objectKey, contentType: record.contentType, filename: record.filename };
  }
  const found = record.variants.find((v) => v.name === variant);
  if (found !== undefined) {
    // "cat.png" → "cat-thumb.webp": the name says what the bytes are.
    const stem = record.filename.replace(/\.[^.]*$/, "");
    return { id, objectKey: found.objectKey, contentType: found.contentType, filename: `${stem}-${variant}.webp` };
  }
  if (record.processingStatus !== "completed") {
    throw new FileError(
      "failed_precondition",
      `file ${id} has no ${variant} variant yet: processing is ${record.processingStatus}` +
        (record.processingError ? ` (${record.processingError})` : ""),
    );
  }
  const names = record.variants.map((v) => v.name).join(", ") || "none";
  throw new FileError("invalid_argument", `variant: file ${id} has no ${JSON.stringify(variant)} variant (it has: original, ${names})`);
}
