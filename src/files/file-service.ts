// The FileService RPCs: the contract's adapter. Each handler resolves who the
// caller acts for (a service names the owner; a user is the owner), decodes the
// request into domain input, calls one use case (a module of its own in this
// folder) and encodes the domain result. Transport-agnostic: the same handlers
// serve gRPC (services, mTLS) and Connect/gRPC-Web (browsers, JWT).
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConfirmFailureCode,
  FileStatus,
  type FileService,
  type ProcessingOptions,
  type UploadMetadata,
} from "../../gen/file/v1/file_service_pb.js";
import { FileError } from "../domain/errors.js";
import type { FileRepository } from "../domain/file-repository.js";
import { principalOf } from "../auth/principal.js";
import { resolveOwner } from "../auth/owner.js";
import { checkNameAndType } from "./upload-rules.js";
import { parseFileId, parseFileIds } from "./file-ids.js";
import { filterableStatusNames, statusFromProto, toFileMessage } from "./file-message.js";
import { purposeFromProto, unknownPurposeMessage } from "./purposes.js";
import type { ConfirmProblem } from "./confirm-checks.js";
import { ownedFile, recordsById, type UseCaseDeps } from "./use-case-deps.js";
import { generateUploadUrls } from "./generate-upload-urls.js";
import { confirmUpload } from "./confirm-upload.js";
import { downloadUrls } from "./downloads.js";
import { deleteFile, deleteFiles } from "./delete-files.js";
import { listFiles } from "./list-files.js";
import { processFile } from "./process-file.js";
import { storeDirectUpload, type DirectUpload } from "./direct-upload.js";
import { fingerprintOf, parseIdempotencyKey } from "./idempotency.js";
import { watchFiles, type WatchDeps } from "./watch-files.js";
import { createChangeFeed } from "../events/change-feed.js";

export type { FileServiceSettings } from "./use-case-deps.js";

export interface FileServiceDeps extends Omit<UseCaseDeps, "now"> {
  /** Reads for GetFile/BatchGetFiles (read-through cached when a cache is configured). */
  reads?: Pick<FileRepository, "findByIds">;
  now?: () => Date;
  /** What WatchFiles streams: the change feed, and the heartbeat interval. */
  watch?: Pick<WatchDeps, "feed" | "heartbeatMs">;
}

/** Ids per call for the batch RPCs that take ids. */
export const MAX_IDS_PER_CALL = 100;

const CONFIRM_FAILURE_CODE: Readonly<Record<ConfirmProblem, ConfirmFailureCode>> = {
  not_found: ConfirmFailureCode.NOT_FOUND,
  deleted: ConfirmFailureCode.DELETED,
  expired: ConfirmFailureCode.EXPIRED,
  object_missing: ConfirmFailureCode.OBJECT_MISSING,
  size_mismatch: ConfirmFailureCode.SIZE_MISMATCH,
  md5_mismatch: ConfirmFailureCode.MD5_MISMATCH,
  type_mismatch: ConfirmFailureCode.TYPE_MISMATCH,
};

export function createFileService(serviceDeps: FileServiceDeps): ServiceImpl<typeof FileService> {
  const deps: UseCaseDeps = { ...serviceDeps, now: serviceDeps.now ?? (() => new Date()) };
  const reads = serviceDeps.reads ?? deps.files;
  const ownerFor = (context: HandlerContext, ownerId: string) => resolveOwner(principalOf(context), ownerId);
  const idsOf = (fileIds: readonly string[]) => parseFileIds(fileIds, "file_ids", MAX_IDS_PER_CALL);
  const directDeps = {
    ...deps,
    limits: deps.settings,
    uploadTmpDir: deps.settings.uploadTmpDir,
    intent: { ttlSeconds: deps.settings.uploadUrlTtlSeconds, graceSeconds: deps.settings.uploadExpiryGraceSeconds, settleMs: deps.settings.storeSettleMs ?? 0 },
    idempotencyWindowSeconds: deps.settings.idempotencyWindowSeconds,
  };
  // A service without events configured still streams (heartbeats only).
  const watch = serviceDeps.watch ?? { feed: createChangeFeed(), heartbeatMs: 15_000 };

  /** What UploadFile and UploadFileStream share, checked before any byte is read. */
  function directUpload(meta: Omit<UploadMetadata, "$typeName" | "$unknown">, context: HandlerContext): DirectUpload {
    const ownerId = ownerFor(context, meta.ownerId);
    const purpose = parsePurpose(meta.purpose, "purpose");
    const named = checkNameAndType(meta.filename, meta.contentType, "");
    if (!named.ok) throw new FileError("invalid_argument", named.violations.join("; "));
    const options = parseProcessingOptions(meta.processing, "processing");
    return { ownerId, ...named.value, purpose, ...options };
  }

  /** The call's idempotency, bound to what it asked (for UploadFile, its bytes too). */
  function idempotencyOf(key: string, request: unknown): DirectUpload["idempotency"] {
    const parsed = parseIdempotencyKey(key, "idempotency_key");
    return parsed === undefined ? undefined : { key: parsed, fingerprint: fingerprintOf(request) };
  }

  return {
    async generateUploadURLs(req, context) {
      const reserved = await generateUploadUrls(
        deps,
        ownerFor(context, req.ownerId),
        req.files,
        parseIdempotencyKey(req.idempotencyKey, "idempotency_key"),
      );
      return {
        uploads: reserved.map(({ record, upload }) => ({
          fileId: record.id,
          url: upload.url,
          method: "PUT",
          headers: upload.headers,
          expiresAt: timestampFromDate(upload.expiresAt),
        })),
      };
    },

    async confirmUpload(req, context) {
      const { confirmed, failures } = await confirmUpload(deps, ownerFor(context, req.ownerId), idsOf(req.fileIds));
      return {
        files: confirmed.map(toFileMessage),
        failures: failures.map((f) => ({ fileId: f.fileId, code: CONFIRM_FAILURE_CODE[f.code], reason: f.reason })),
      };
    },

    async getFile(req, context) {
      const record = await ownedFile(reads, ownerFor(context, req.ownerId), parseFileId(req.fileId, "file_id"));
      return { file: toFileMessage(record) };
    },

    async batchGetFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = idsOf(req.fileIds);
      const records = await recordsById(reads, ownerId, ids);
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
      const urls = await downloadUrls(deps, ownerId, idsOf(req.fileIds), req);
      return { urls: urls.map((u) => ({ fileId: u.fileId, url: u.url, expiresAt: timestampFromDate(u.expiresAt) })) };
    },

    async deleteFile(req, context) {
      const record = await deleteFile(deps, ownerFor(context, req.ownerId), parseFileId(req.fileId, "file_id"));
      return { file: toFileMessage(record) };
    },

    async batchDeleteFiles(req, context) {
      return deleteFiles(deps, ownerFor(context, req.ownerId), idsOf(req.fileIds));
    },

    async listFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      let status;
      if (req.status !== undefined) {
        const recordStatus = statusFromProto(req.status);
        if (recordStatus === undefined) {
          throw new FileError("invalid_argument", `status: must be one of ${filterableStatusNames()} when set`);
        }
        status = { status: recordStatus, name: FileStatus[req.status] };
      }
      const page = await listFiles(deps, ownerId, { pageSize: req.pageSize, pageToken: req.pageToken, status });
      return { files: page.files.map(toFileMessage), nextPageToken: page.nextPageToken };
    },

    async uploadFile(req, context) {
      const upload = { ...directUpload(req, context), idempotency: idempotencyOf(req.idempotencyKey, req) };
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
      const upload = {
        ...directUpload(metadata, context),
        declaredSize: parseDeclaredSize(metadata.sizeBytes),
        idempotency: idempotencyOf(metadata.idempotencyKey, metadata),
      };
      const record = await storeDirectUpload(upload, chunksOf(iterator), directDeps);
      return { file: toFileMessage(record) };
    },

    async processFile(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const fileId = parseFileId(req.fileId, "file_id");
      const record = await processFile(deps, ownerId, fileId, parseProcessingOptions(req.options, "options"));
      return { file: toFileMessage(record) };
    },

    async *watchFiles(req, context) {
      const ownerId = ownerFor(context, req.ownerId);
      const ids = req.fileIds.length === 0 ? [] : idsOf(req.fileIds);
      yield* watchFiles({ ...watch, files: deps.files, now: deps.now }, ownerId, ids, context.signal);
    },
  };
}

function parsePurpose(value: number, field: string) {
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
