// The FileService RPCs: the life of a file, pending → uploaded → deleted, and
// the variants made of it. Transport-agnostic: the same handlers serve gRPC
// (services, mTLS) and Connect/gRPC-Web (browsers, JWT). Who is calling comes
// from the context; every read and write is scoped to the owner that caller
// acts for.
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { FileError } from "../domain/errors.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { create as contentDisposition } from "content-disposition";
import {
  ConfirmFailureCode,
  FileStatus,
  type ConfirmFailure,
  type FileService,
  type ProcessingOptions,
  type UploadMetadata,
} from "../../gen/file/v1/file_service_pb.js";
import { principalOf } from "../auth/principal.js";
import { resolveOwner } from "../auth/owner.js";
import type { FilePurpose, FileRecord, FileStatus as RecordStatus } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import { MAX_URL_TTL_SECONDS } from "../config.js";
import type { ImageSettings } from "../processing/make-variants.js";
import { runJob, type RetryPolicy } from "../processing/run-job.js";
import type { Logger } from "../observability/logger.js";
import { checkBatchSize, checkFileToUpload, checkNameAndType, type UploadLimits, type ValidFileToUpload } from "./upload-rules.js";
import { newFileId, objectKeyFor, parseFileId, parseFileIds } from "./file-ids.js";
import { filterableStatusNames, statusFromProto, toFileMessage } from "./file-message.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { purposeFromProto, unknownPurposeMessage } from "./purposes.js";
import { storeDirectUpload, type DirectUpload } from "./direct-upload.js";
import { verifyUploadedObject } from "./confirm-checks.js";

export interface FileServiceSettings extends UploadLimits {
  uploadUrlTtlSeconds: number;
  downloadUrlTtlSeconds: number;
}

export interface FileServiceDeps {
  files: FileRepository;
  /** Reads for GetFile/BatchGetFiles (read-through cached when a cache is configured). */
  reads?: Pick<FileRepository, "findByIds">;
  objects: ObjectStore;
  settings: FileServiceSettings;
  images: ImageSettings;
  retry: RetryPolicy;
  /** This process's processing worker. */
  processing: { workerId: string; leaseMs: number; notify(): void };
  log: Logger;
  now?: () => Date;
  /** Told the bytes of files that became uploaded (for metrics). */
  onUploaded?: (bytes: number) => void;
}

/** Ids per call for the batch RPCs that take ids. */
export const MAX_IDS_PER_CALL = 100;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const LISTED_BY_DEFAULT: readonly RecordStatus[] = ["pending", "uploaded"];

export function createFileService(deps: FileServiceDeps): ServiceImpl<typeof FileService> {
  const { files, objects, settings } = deps;
  const reads = deps.reads ?? files;
  const now = deps.now ?? (() => new Date());
  const ownerFor = (context: HandlerContext, ownerId: string) => resolveOwner(principalOf(context), ownerId);
  const directDeps = { ...deps, limits: settings, now };

  /** The owner's records for `ids`, keyed by id. */
  async function recordsById(
    ownerId: string,
    ids: readonly string[],
    source: Pick<FileRepository, "findByIds"> = files,
  ): Promise<Map<string, FileRecord>> {
    const records = await source.findByIds(ownerId, ids);
    return new Map(records.map((r) => [r.id, r]));
  }

  async function getOne(
    ownerId: string,
    fileId: string,
    source: Pick<FileRepository, "findByIds"> = files,
  ): Promise<FileRecord> {
    const record = (await recordsById(ownerId, [fileId], source)).get(fileId);
    // Foreign and missing look the same: no caller learns another owner's file exists.
    if (record === undefined) throw new FileError("not_found", `file ${fileId} not found`);
    return record;
  }

  /** Validates what UploadFile and UploadFileStream share (before any byte is read). */
  function directUpload(meta: Omit<UploadMetadata, "$typeName" | "$unknown">, context: HandlerContext): DirectUpload {
    const ownerId = ownerFor(context, meta.ownerId);
    const purpose = parsePurpose(meta.purpose, "purpose");
    const named = checkNameAndType(meta.filename, meta.contentType, "");
    if (!named.ok) throw new FileError("invalid_argument", named.violations.join("; "));
    const options = parseProcessingOptions(meta.processing, "processing");
    return { ownerId, ...named.value, purpose, ...options };
  }

  return {
    async generateUploadURLs(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const batchProblem = checkBatchSize(req.files.length, settings);
      if (batchProblem !== undefined) throw new FileError("invalid_argument", batchProblem);

      const valid: Array<ValidFileToUpload & { purpose: FilePurpose }> = [];
      const violations: string[] = [];
      req.files.forEach((file, i) => {
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

      const createdAt = now();
      const records = valid.map((file) => {
        const id = newFileId();
        return { ...file, id, ownerId, objectKey: objectKeyFor(id), createdAt };
      });
      // Sign first: it cannot leave anything behind, while the insert is the commit point.
      const uploads = await Promise.all(
        records.map((r) =>
          objects.presignPut({
            key: r.objectKey,
            contentType: r.contentType,
            contentLength: r.sizeBytes,
            contentMd5: r.md5,
            expiresInSeconds: settings.uploadUrlTtlSeconds,
          }),
        ),
      );
      await files.insertPending(records);
      return {
        uploads: records.map((r, i) => {
          const upload = uploads[i]!;
          return {
            fileId: r.id,
            url: upload.url,
            method: "PUT",
            headers: upload.headers,
            expiresAt: timestampFromDate(upload.expiresAt),
          };
        }),
      };
    },

    async confirmUpload(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const records = await recordsById(ownerId, ids);

      const failures: ConfirmFailure[] = [];
      const fail = (fileId: string, code: ConfirmFailureCode, reason: string) =>
        failures.push({ $typeName: "file.v1.ConfirmFailure", fileId, code, reason });

      const toCheck: FileRecord[] = [];
      for (const id of ids) {
        const record = records.get(id);
        if (record === undefined) fail(id, ConfirmFailureCode.NOT_FOUND, `file ${id} not found`);
        else if (record.status === "deleted") fail(id, ConfirmFailureCode.DELETED, `file ${id} was deleted`);
        else if (record.status === "pending") toCheck.push(record);
        // Already uploaded: confirming again is a success, no need to look at the object.
      }

      const verified = await Promise.all(toCheck.map((record) => verifyUploadedObject(objects, record)));
      const passed: string[] = [];
      verified.forEach((problem, i) => {
        const record = toCheck[i]!;
        if (problem === undefined) passed.push(record.id);
        else fail(record.id, problem.code, problem.reason);
      });
      // Objects that do not match their declaration are removed: the URL stays valid
      // until it expires, so the client can upload the right bytes and confirm again.
      const rejectedKeys = toCheck.filter((r, i) => verified[i]?.remove === true).map((r) => r.objectKey);
      if (rejectedKeys.length > 0) await objects.delete(rejectedKeys);

      if (passed.length > 0) {
        const at = now();
        await files.markUploaded(ownerId, passed, at);
        // Variants are made in the background: ConfirmUpload returns at once.
        await files.requestProcessing(ownerId, passed, { webpQuality: null }, at);
        deps.processing.notify();
      }

      // Re-read so the answer reflects what is stored, even if a delete raced with us.
      const confirmedIds = ids.filter((id) => passed.includes(id) || records.get(id)?.status === "uploaded");
      const after = await recordsById(ownerId, confirmedIds);
      const confirmed: FileRecord[] = [];
      for (const id of confirmedIds) {
        const record = after.get(id);
        if (record?.status === "uploaded") confirmed.push(record);
        else fail(id, ConfirmFailureCode.DELETED, `file ${id} was deleted`);
      }
      const newBytes = confirmed.filter((r) => passed.includes(r.id)).reduce((sum, r) => sum + r.sizeBytes, 0);
      if (newBytes > 0) deps.onUploaded?.(newBytes);
      const order = new Map(ids.map((id, i) => [id, i]));
      failures.sort((a, b) => order.get(a.fileId)! - order.get(b.fileId)!);
      return { files: confirmed.map(toFileMessage), failures };
    },

    async getFile(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const record = await getOne(ownerId, parseFileId(req.fileId, "file_id"), reads);
      return { file: toFileMessage(record) };
    },

    async batchGetFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const records = await recordsById(ownerId, ids, reads);
      return {
        files: ids.flatMap((id) => {
          const record = records.get(id);
          return record === undefined ? [] : [toFileMessage(record)];
        }),
        notFoundIds: ids.filter((id) => !records.has(id)),
      };
    },

    async getDownloadURLs(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const ttl = req.expirySeconds === 0 ? settings.downloadUrlTtlSeconds : req.expirySeconds;
      if (ttl < 1 || ttl > MAX_URL_TTL_SECONDS) {
        throw new FileError("invalid_argument", `expiry_seconds: must be from 1 to ${MAX_URL_TTL_SECONDS} (7 days), or 0 for the default`);
      }
      const variant = req.variant.trim().toLowerCase() || "original";
      const records = await recordsById(ownerId, ids);
      // All or nothing: one unusable id fails the call, naming it.
      const targets = ids.map((id) => downloadTarget(records.get(id), id, variant));
      const urls = await Promise.all(
        targets.map(async (t) => {
          const signed = await objects.presignGet({
            key: t.objectKey,
            expiresInSeconds: ttl,
            contentType: t.contentType,
            contentDisposition: contentDisposition(t.filename, { type: req.attachment ? "attachment" : "inline" }),
          });
          return { fileId: t.id, url: signed.url, expiresAt: timestampFromDate(signed.expiresAt) };
        }),
      );
      return { urls };
    },

    async deleteFile(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const fileId = parseFileId(req.fileId, "file_id");
      const record = await getOne(ownerId, fileId);
      // The row first: once it says deleted, nobody gets a URL for the object.
      // Removing objects is idempotent, so a retry after a failure finishes the job.
      await files.markDeleted(ownerId, [fileId], now());
      const failed = await objects.delete(objectKeysOf(record));
      if (failed.length > 0) {
        throw new FileError("unavailable", `file ${fileId} is deleted but its bytes could not be removed yet: retry`);
      }
      return { file: toFileMessage(await getOne(ownerId, fileId)) };
    },

    async batchDeleteFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const records = await recordsById(ownerId, ids);
      const found = ids.filter((id) => records.has(id));
      if (found.length > 0) await files.markDeleted(ownerId, found, now());
      const failedKeys = new Set(await objects.delete(found.flatMap((id) => objectKeysOf(records.get(id)!))));
      const failedIds = ids.filter((id) => {
        const record = records.get(id);
        return record === undefined || objectKeysOf(record).some((key) => failedKeys.has(key));
      });
      return { deletedCount: ids.length - failedIds.length, failedIds };
    },

    async listFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
      if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
        throw new FileError("invalid_argument", `page_size: must be from 1 to ${MAX_PAGE_SIZE}, or 0 for ${DEFAULT_PAGE_SIZE}`);
      }
      let statuses = LISTED_BY_DEFAULT;
      if (req.status !== undefined) {
        const status = statusFromProto(req.status);
        if (status === undefined) {
          throw new FileError("invalid_argument", `status: must be one of ${filterableStatusNames()} when set`);
        }
        statuses = [status];
      }
      const filter = req.status === undefined ? "" : FileStatus[req.status];
      const beforeId = decodePageToken(req.pageToken, filter);
      // One extra row tells whether another page exists.
      const rows = await files.list({ ownerId, statuses, beforeId, limit: pageSize + 1 });
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      return {
        files: page.map(toFileMessage),
        nextPageToken: rows.length > pageSize && last ? encodePageToken({ after: last.id, filter }) : "",
      };
    },

    async uploadFile(req, context) {
      const upload = directUpload(req, context);
      const record = await storeDirectUpload(upload, oneChunk(req.data), directDeps);
      return { file: toFileMessage(record) };
    },

    async uploadFileStream(requests, context) {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.payload.case !== "metadata") {
        throw new FileError("invalid_argument", "the first message must carry metadata (owner, filename, content type, purpose)");
      }
      const metadata = first.value.payload.value;
      const upload = { ...directUpload(metadata, context), declaredSize: parseDeclaredSize(metadata.sizeBytes) };
      const record = await storeDirectUpload(upload, chunksOf(iterator), directDeps);
      return { file: toFileMessage(record) };
    },

    async processFile(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const fileId = parseFileId(req.fileId, "file_id");
      const { webpQuality, async } = parseProcessingOptions(req.options, "options");
      const record = await getOne(ownerId, fileId);
      if (record.status !== "uploaded") {
        throw new FileError("failed_precondition", record.status === "pending" ? `file ${fileId} is pending: confirm the upload first` : `file ${fileId} was deleted`);
      }
      const { workerId, leaseMs } = deps.processing;
      const claim = async ? undefined : { workerId, leaseMs };
      await files.requestProcessing(ownerId, [fileId], { webpQuality, claim }, now());
      if (async) {
        deps.processing.notify();
      } else {
        const job = { fileId, ownerId, objectKey: record.objectKey, contentType: record.contentType, purpose: record.purpose, webpQuality, attempts: 1 };
        await runJob(job, workerId, { files, objects, images: deps.images, retry: deps.retry, log: deps.log, now });
      }
      return { file: toFileMessage(await getOne(ownerId, fileId)) };
    },

    // Placeholder until the events issue lands: the contract is ahead of the service.
    // eslint-disable-next-line require-yield
    async *watchFiles() {
      throw new ConnectError("WatchFiles is not available yet", Code.Unimplemented);
    },
  };
}

/** Everything stored for a file: the original and its variants. */
function objectKeysOf(record: FileRecord): string[] {
  return [record.objectKey, ...record.variants.map((v) => v.objectKey)];
}

function downloadTarget(record: FileRecord | undefined, id: string, variant: string) {
  if (record === undefined) throw new FileError("not_found", `file ${id} not found`);
  if (record.status !== "uploaded") {
    throw new FileError("failed_precondition", record.status === "pending"
        ? `file ${id} is pending: upload its bytes and call ConfirmUpload first`
        : `file ${id} was deleted`);
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

function parsePurpose(value: number, field: string): FilePurpose {
  const purpose = purposeFromProto(value);
  if (purpose === undefined) throw new FileError("invalid_argument", unknownPurposeMessage(field, value));
  return purpose;
}

function parseProcessingOptions(options: ProcessingOptions | undefined, field: string) {
  const quality = options?.webpQuality ?? 0;
  if (quality < 0 || quality > 100) {
    throw new FileError("invalid_argument", `${field}.webp_quality: must be from 1 to 100, or 0 for the default`);
  }
  return { webpQuality: quality === 0 ? null : quality, async: options?.async ?? false };
}

/** UploadMetadata.size_bytes: absent, or a positive size (the limit is checked with the purpose's). */
function parseDeclaredSize(sizeBytes: bigint | undefined): number | undefined {
  if (sizeBytes === undefined) return undefined;
  if (sizeBytes < 1n) throw new FileError("invalid_argument", "size_bytes: must be at least 1 when set");
  // Past 2^53 the number is approximate, and far above any limit either way.
  return Number(sizeBytes);
}

async function* oneChunk(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

/** The chunks after the metadata message; a second metadata message is a caller error. */
async function* chunksOf(iterator: AsyncIterator<{ payload: { case: string | undefined; value?: unknown } }>) {
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    const { payload } = next.value;
    if (payload.case !== "chunk") {
      throw new FileError("invalid_argument", "after the first message, every message must carry a chunk");
    }
    yield payload.value as Uint8Array;
  }
}
