// The FileService RPCs: the life of a file, pending → uploaded → deleted.
// Transport-agnostic: the same handlers serve gRPC (services, mTLS) and
// Connect/gRPC-Web (browsers, JWT). Who is calling comes from the context;
// every read and write is scoped to the owner that caller acts for.
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { create as contentDisposition } from "content-disposition";
import {
  ConfirmFailureCode,
  FileStatus,
  type FileService,
  type ConfirmFailure,
} from "../../gen/file/v1/file_service_pb.js";
import { principalOf } from "../auth/principal.js";
import { resolveOwner } from "../auth/owner.js";
import type { FileRecord, FileRepository, FileStatus as RecordStatus } from "../db/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import { MAX_URL_TTL_SECONDS } from "../config.js";
import { checkBatchSize, checkFileToUpload, type UploadLimits, type ValidFileToUpload } from "./upload-rules.js";
import { newFileId, objectKeyFor, parseFileId, parseFileIds } from "./file-ids.js";
import { statusFromProto, toFileMessage } from "./file-message.js";
import { decodePageToken, encodePageToken } from "./page-token.js";

export interface FileServiceSettings extends UploadLimits {
  uploadUrlTtlSeconds: number;
  downloadUrlTtlSeconds: number;
}

export interface FileServiceDeps {
  files: FileRepository;
  objects: ObjectStore;
  settings: FileServiceSettings;
  now?: () => Date;
  /** Told the bytes of each batch of files that became uploaded (for metrics). */
  onUploaded?: (bytes: number) => void;
}

/** Ids per call for the batch RPCs that take ids. */
export const MAX_IDS_PER_CALL = 100;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const LISTED_BY_DEFAULT: readonly RecordStatus[] = ["pending", "uploaded"];

export function createFileService(deps: FileServiceDeps): ServiceImpl<typeof FileService> {
  const { files, objects, settings } = deps;
  const now = deps.now ?? (() => new Date());
  const ownerFor = (context: HandlerContext, ownerId: string) => resolveOwner(principalOf(context), ownerId);

  /** The owner's records for `ids`, keyed by id. */
  async function recordsById(ownerId: string, ids: readonly string[]): Promise<Map<string, FileRecord>> {
    const records = await files.findByIds(ownerId, ids);
    return new Map(records.map((r) => [r.id, r]));
  }

  async function getOne(ownerId: string, fileId: string): Promise<FileRecord> {
    const record = (await recordsById(ownerId, [fileId])).get(fileId);
    // Foreign and missing look the same: no caller learns another owner's file exists.
    if (record === undefined) throw new ConnectError(`file ${fileId} not found`, Code.NotFound);
    return record;
  }

  return {
    async generateUploadURLs(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const batchProblem = checkBatchSize(req.files.length, settings);
      if (batchProblem !== undefined) throw new ConnectError(batchProblem, Code.InvalidArgument);

      const valid: ValidFileToUpload[] = [];
      const violations: string[] = [];
      req.files.forEach((file, i) => {
        const checked = checkFileToUpload(file, `files[${i}]`, settings);
        if (checked.ok) valid.push(checked.value);
        else violations.push(...checked.violations);
      });
      if (violations.length > 0) throw new ConnectError(violations.join("; "), Code.InvalidArgument);

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

      if (passed.length > 0) await files.markUploaded(ownerId, passed, now());

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
      const record = await getOne(ownerId, parseFileId(req.fileId, "file_id"));
      return { file: toFileMessage(record) };
    },

    async batchGetFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const records = await recordsById(ownerId, ids);
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
        throw new ConnectError(
          `expiry_seconds: must be from 1 to ${MAX_URL_TTL_SECONDS} (7 days), or 0 for the default`,
          Code.InvalidArgument,
        );
      }
      const records = await recordsById(ownerId, ids);
      // All or nothing: one unusable id fails the call, naming it.
      for (const id of ids) {
        const record = records.get(id);
        if (record === undefined) throw new ConnectError(`file ${id} not found`, Code.NotFound);
        if (record.status !== "uploaded") {
          throw new ConnectError(
            record.status === "pending"
              ? `file ${id} is pending: upload its bytes and call ConfirmUpload first`
              : `file ${id} was deleted`,
            Code.FailedPrecondition,
          );
        }
      }
      const urls = await Promise.all(
        ids.map(async (id) => {
          const record = records.get(id)!;
          const signed = await objects.presignGet({
            key: record.objectKey,
            expiresInSeconds: ttl,
            contentType: record.contentType,
            contentDisposition: contentDisposition(record.filename, { type: req.attachment ? "attachment" : "inline" }),
          });
          return { fileId: id, url: signed.url, expiresAt: timestampFromDate(signed.expiresAt) };
        }),
      );
      return { urls };
    },

    async deleteFile(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const fileId = parseFileId(req.fileId, "file_id");
      const record = await getOne(ownerId, fileId);
      // The row first: once it says deleted, nobody gets a URL for the object.
      // Removing the object is idempotent, so a retry after a failure finishes the job.
      await files.markDeleted(ownerId, [fileId], now());
      const failed = await objects.delete([record.objectKey]);
      if (failed.length > 0) {
        throw new ConnectError(`file ${fileId} is deleted but its bytes could not be removed yet: retry`, Code.Unavailable);
      }
      return { file: toFileMessage(await getOne(ownerId, fileId)) };
    },

    async batchDeleteFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = parseFileIds(req.fileIds, "file_ids", MAX_IDS_PER_CALL);
      const records = await recordsById(ownerId, ids);
      const found = ids.filter((id) => records.has(id));
      if (found.length > 0) await files.markDeleted(ownerId, found, now());
      const failedKeys = new Set(await objects.delete(found.map((id) => records.get(id)!.objectKey)));
      const failedIds = ids.filter((id) => !records.has(id) || failedKeys.has(records.get(id)!.objectKey));
      return { deletedCount: ids.length - failedIds.length, failedIds };
    },

    async listFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
      if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
        throw new ConnectError(`page_size: must be from 1 to ${MAX_PAGE_SIZE}, or 0 for ${DEFAULT_PAGE_SIZE}`, Code.InvalidArgument);
      }
      let statuses = LISTED_BY_DEFAULT;
      if (req.status !== undefined) {
        const status = statusFromProto(req.status);
        if (status === undefined) {
          throw new ConnectError("status: must be PENDING, UPLOADED or DELETED when set", Code.InvalidArgument);
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
  };
}

interface ObjectProblem {
  code: ConfirmFailureCode;
  reason: string;
  /** Whether the object must be removed (its bytes are not what was declared). */
  remove: boolean;
}

/** Compares the stored object with what was declared; undefined when it matches. */
async function verifyUploadedObject(objects: ObjectStore, record: FileRecord): Promise<ObjectProblem | undefined> {
  const info = await objects.head(record.objectKey);
  if (info === null) {
    return {
      code: ConfirmFailureCode.OBJECT_MISSING,
      reason: `nothing was uploaded for file ${record.id} yet: PUT the bytes to its upload URL, then confirm`,
      remove: false,
    };
  }
  if (info.size !== record.sizeBytes) {
    return {
      code: ConfirmFailureCode.SIZE_MISMATCH,
      reason: `file ${record.id}: ${info.size} bytes were uploaded but ${record.sizeBytes} were declared; the upload was discarded, upload the declared bytes again`,
      remove: true,
    };
  }
  if (info.md5 !== record.md5) {
    return {
      code: ConfirmFailureCode.MD5_MISMATCH,
      reason: `file ${record.id}: the uploaded bytes do not match the declared MD5; the upload was discarded, upload the declared bytes again`,
      remove: true,
    };
  }
  return undefined;
}
