// The persistence contract for file records. The service logic depends on this
// interface only; MySQL (production) and SQLite/libSQL (embedded) implement it.
//
// Every owner-facing read and write is scoped by owner: a row of another owner
// is invisible, so callers cannot tell "foreign" from "missing".
//
// Implementations throw DependencyUnavailableError when the database cannot be
// reached, and let programming errors through unchanged.

export type FileStatus = "pending" | "uploaded" | "deleted";

export type FilePurpose =
  | "unspecified"
  | "profile_picture"
  | "cover_photo"
  | "post_attachment"
  | "message_attachment"
  | "story"
  | "avatar";

export type ProcessingStatus = "pending" | "processing" | "completed" | "failed" | "cancelled";

export interface VariantRecord {
  /** "thumb", "medium", "large". */
  name: string;
  width: number;
  height: number;
  contentType: string;
  sizeBytes: number;
  objectKey: string;
}

export interface FileRecord {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  /** Base64 of the 16-byte MD5, as HTTP Content-MD5 carries it. */
  md5: string;
  status: FileStatus;
  objectKey: string;
  createdAt: Date;
  uploadedAt: Date | null;
  deletedAt: Date | null;
  purpose: FilePurpose;
  /** Hex SHA-256 of the content, once known. */
  sha256: string | null;
  /** Of the original, upright. */
  width: number | null;
  height: number | null;
  blurhash: string | null;
  processingStatus: ProcessingStatus;
  processingError: string | null;
  /** In a stable order (by name). */
  variants: VariantRecord[];
}

/** A file reserved for a presigned upload: pending, processing pending but not due until confirmed. */
export type NewFileRecord = Pick<
  FileRecord,
  "id" | "ownerId" | "filename" | "contentType" | "sizeBytes" | "md5" | "objectKey" | "createdAt" | "purpose"
>;

/** A claim on a file's processing: only `workerId` may complete or fail it, until `leaseMs` passes. */
export interface ProcessingClaim {
  workerId: string;
  leaseMs: number;
}

export interface ProcessingRequest {
  /** WebP quality for the variants; null for the default. */
  webpQuality: number | null;
  /** Claim the job for this worker right away (synchronous processing); otherwise any worker may. */
  claim?: ProcessingClaim;
}

/** A file whose bytes are already stored (uploads through the service). */
export interface NewUploadedFile extends NewFileRecord {
  sha256: string;
  uploadedAt: Date;
  processing: ProcessingRequest;
}

export interface ProcessingResult {
  sha256: string;
  width: number;
  height: number;
  blurhash: string;
  variants: VariantRecord[];
}

export interface ProcessingJob {
  fileId: string;
  ownerId: string;
  objectKey: string;
  contentType: string;
  purpose: FilePurpose;
  webpQuality: number | null;
  /** Claims so far, this one included. */
  attempts: number;
}

export interface ListFilesQuery {
  ownerId: string;
  /** Statuses to include. */
  statuses: readonly FileStatus[];
  /** Keyset cursor: only ids strictly below this one (newest first). */
  beforeId?: string;
  limit: number;
}

export interface FileRepository {
  /** Inserts all records as `pending` in one transaction: all or nothing. */
  insertPending(records: readonly NewFileRecord[]): Promise<void>;
  /**
   * Inserts an uploaded file with its content hash. When the owner already has a
   * live (not deleted) file with the same SHA-256, inserts nothing and returns
   * that file instead: concurrent identical uploads end with exactly one row.
   */
  insertUploaded(record: NewUploadedFile): Promise<{ inserted: true } | { inserted: false; existing: FileRecord }>;
  /** The owner's records among `ids`, in no particular order; unknown or foreign ids are absent. */
  findByIds(ownerId: string, ids: readonly string[]): Promise<FileRecord[]>;
  /** The owner's live file with this content hash, if any. */
  findByContentHash(ownerId: string, sha256: string): Promise<FileRecord | undefined>;
  /** Moves the owner's `pending` records among `ids` to `uploaded`. Returns how many moved. */
  markUploaded(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /**
   * Moves the owner's not-yet-deleted records among `ids` to `deleted`, frees
   * their content hash for dedup, and cancels processing that had not finished.
   * Returns how many moved.
   */
  markDeleted(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /** The owner's records with the given statuses, newest (highest id) first. */
  list(query: ListFilesQuery): Promise<FileRecord[]>;
  /** How many records are in each status, for the files-by-state metric. */
  countByStatus(): Promise<Record<FileStatus, number>>;

  // Processing: a work queue kept in the database, so several service
  // instances share it, no job runs twice at once, and a crashed worker's job
  // is taken up again when its lease runs out.

  /**
   * Queues the owner's uploaded files among `ids` for (re)processing, due now:
   * processing pending, attempts reset, error cleared. Returns how many were queued.
   */
  requestProcessing(ownerId: string, ids: readonly string[], request: ProcessingRequest, at: Date): Promise<number>;
  /**
   * Claims up to `limit` due jobs for `workerId` until `now + leaseMs`: uploaded
   * files whose processing is pending and due, or processing with an expired
   * lease. Each claim increments attempts. Never hands one job to two workers.
   */
  claimProcessing(input: { workerId: string; leaseMs: number; limit: number; now: Date }): Promise<ProcessingJob[]>;
  /**
   * Stores the result of a job `workerId` still holds: sha256, size, blurhash,
   * the variants (replacing earlier ones), processing completed. Also records
   * the hash for dedup unless another live file of the owner has it. Returns
   * false (and changes nothing) when the claim was lost or the file was deleted.
   */
  completeProcessing(fileId: string, workerId: string, result: ProcessingResult): Promise<boolean>;
  /**
   * Ends an attempt `workerId` still holds: pending again, due at `retryAt`,
   * or failed for good with `error` when `retryAt` is null. Returns false when
   * the claim was lost.
   */
  failProcessing(fileId: string, workerId: string, error: string, retryAt: Date | null): Promise<boolean>;

  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
