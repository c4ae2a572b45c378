// The persistence contract for file records, owned by the domain: the use
// cases depend on this interface only; MySQL (production) and SQLite/libSQL
// (embedded) implement it in db/.
//
// Every owner-facing read and write is scoped by owner: a row of another owner
// is invisible, so callers cannot tell "foreign" from "missing".
//
// Implementations throw DependencyUnavailableError when the database cannot be
// reached, and let programming errors through unchanged.
import type {
  FileRecord,
  FileStatus,
  ListFilesQuery,
  NewFileRecord,
  NewUploadedFile,
  ProcessingJob,
  ProcessingRequest,
  ProcessingResult,
  ScanResult,
} from "./file.js";
import type { TaskQueue } from "./task-queue.js";

// State changes and their side effects: every method below that changes a
// file's status writes, in the same transaction, the tasks it causes (see
// domain/task.ts): a `publish` task per change (the event), a `purge` task for
// a file whose bytes must go. No crash can separate a change from them.
export interface FileRepository extends TaskQueue {
  /**
   * Inserts all records as `pending` in one transaction: all or nothing. A
   * record's expireDueAt (when given) queues its expiry. Throws
   * IdempotencyConflictError when another call with the same idempotency key
   * inserted first.
   */
  insertPending(records: readonly NewFileRecord[]): Promise<void>;
  /**
   * Inserts an uploaded file with its content hash. When the owner already has a
   * live (not deleted) file with the same SHA-256, inserts nothing and returns
   * that file instead: concurrent identical uploads end with exactly one row.
   */
  insertUploaded(record: NewUploadedFile): Promise<{ inserted: true } | { inserted: false; existing: FileRecord }>;
  /** The files a create call with this idempotency key made, by their place in the call. */
  findByIdempotencyKey(ownerId: string, key: string): Promise<Array<{ id: string; seq: number; fingerprint: string; createdAt: Date }>>;
  /** Frees the key of the owner's files made with it before `before` (the window passed): it may be used again. */
  releaseIdempotencyKey(ownerId: string, key: string, before: Date): Promise<number>;
  /**
   * Turns the owner's `pending` intent row (an upload through the service,
   * recorded before its first byte was stored) into the uploaded file, as
   * insertUploaded would insert it, in one change with its tasks. When the
   * owner already has a live file with the same SHA-256, changes nothing and
   * returns that file. Throws FileError("aborted") when the row is no longer
   * pending (it expired meanwhile).
   */
  fulfilIntent(record: NewUploadedFile): Promise<{ inserted: true } | { inserted: false; existing: FileRecord }>;
  /**
   * Ends the owner's `pending` intent row (its upload failed, or was a
   * duplicate; no client knows its id): removed when its objects are surely
   * gone, else expired with the purge of its objects queued, due `purgeAt`
   * (default now: later lets a write the store may still complete land first).
   */
  abandonIntent(ownerId: string, id: string, objectsGone: boolean, purgeAt?: Date): Promise<void>;
  /** The owner's records among `ids`, in no particular order; unknown or foreign ids are absent. */
  findByIds(ownerId: string, ids: readonly string[]): Promise<FileRecord[]>;
  /** The owner's live file with this content hash, if any. */
  findByContentHash(ownerId: string, sha256: string): Promise<FileRecord | undefined>;
  /**
   * Moves the owner's `pending` records among `ids` to `uploaded` and queues
   * their processing (due `at`, default quality), in one statement; publishes
   * `uploaded`. With `scan`, their scan status becomes pending: nothing is
   * served or made of them before the processing job has them scanned.
   * Returns how many moved.
   */
  markUploaded(ownerId: string, ids: readonly string[], at: Date, options?: { scan?: boolean }): Promise<number>;
  /**
   * Queues processing for the owner's uploaded files among `ids` whose
   * processing is pending but not queued (a file confirmed before processing
   * was queued with the change). Returns how many were queued.
   */
  requeueUnqueued(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /**
   * Moves the owner's not-yet-deleted records among `ids` to `deleted`, frees
   * their content hash for dedup, and cancels processing that had not finished;
   * queues the purge of their objects and publishes `deleted`. Returns how many moved.
   */
  markDeleted(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /**
   * Expires up to `limit` pending files whose expiry is due at `now`: status
   * `expired`, their objects' purge queued, `expired` published. Several
   * instances may sweep at once; each file expires once. Returns their ids.
   */
  expireDue(now: Date, limit: number): Promise<string[]>;
  /**
   * A file's status and every object key stored for it (original, variants),
   * whoever owns it: what a purge task removes. Undefined for an unknown id.
   */
  storedObjects(fileId: string): Promise<{ status: FileStatus; keys: string[] } | undefined>;
  /** The owner's records with the given statuses, newest (highest id) first. */
  list(query: ListFilesQuery): Promise<FileRecord[]>;
  // Reconciliation (npm run reconcile): reads across owners, for what no task
  // can know about (objects written by hand, a bucket restored from backup).

  /** The status of each of these files, whoever owns them; unknown ids are absent. */
  statusesOf(ids: readonly string[]): Promise<Map<string, FileStatus>>;
  /** One keyset page of every owner's files in `status`, newest (highest id) first, below `beforeId`. */
  pageByStatus(query: { status: FileStatus; beforeId?: string; limit: number }): Promise<FileRecord[]>;
  /**
   * Marks the uploaded files among `ids` missing (their bytes are gone from the
   * store): processing cancelled, the content hash freed for dedup, `missing`
   * published, in one change. Returns the ids it changed.
   */
  markMissing(ids: readonly string[], at: Date): Promise<string[]>;
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
   * the variants (replacing earlier ones), processing completed; publishes
   * `processed`. Also records the hash for dedup unless another live file of
   * the owner has it. Returns false (and changes nothing) when the claim was
   * lost or the file was deleted.
   */
  completeProcessing(fileId: string, workerId: string, result: ProcessingResult): Promise<boolean>;
  /**
   * Ends an attempt `workerId` still holds: pending again, due at `retryAt`,
   * or failed for good with `error` when `retryAt` is null (publishing
   * `processing_failed`). Returns false when the claim was lost.
   */
  failProcessing(fileId: string, workerId: string, error: string, retryAt: Date | null): Promise<boolean>;

  // The malware scan, by the worker that holds the file's processing job.

  /**
   * Records a clean or failed scan of a job `workerId` holds; clean also counts
   * the job's attempts from this one (waits for the scanner spend none). False
   * when the claim was lost.
   */
  recordScan(fileId: string, workerId: string, result: ScanResult & { status: "clean" | "error" }): Promise<boolean>;
  /**
   * The file `workerId` holds is infected: status quarantined with the
   * signature, processing cancelled, the move of its objects out of the served
   * space queued and `quarantined` published, in one change. False when the
   * claim was lost (or the file was deleted meanwhile).
   */
  quarantine(fileId: string, workerId: string, result: ScanResult & { status: "infected" }): Promise<boolean>;

  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
