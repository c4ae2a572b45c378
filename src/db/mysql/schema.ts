// The MySQL/MariaDB tables behind FileRepository. Change them only together with a
// generated migration (npm run generate:migrations); CI runs
// scripts/check-migrations.sh to catch a schema change without one.
import {
  bigint,
  customType,
  datetime,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  uniqueIndex,
} from "drizzle-orm/mysql-core";
import { TASK_STATUSES } from "../../domain/task.js";
import { FILE_PURPOSES, FILE_STATUSES, PROCESSING_STATUSES, SCAN_STATUSES, type FileRecord, type VariantRecord } from "../../domain/file.js";

// drizzle's mysql-core cannot set a column charset, so these spell it out: the
// result must not depend on the server's or database's defaults, and every
// comparison is binary. A case- or accent-insensitive collation (the servers'
// default) would let owner "Alice" match "alice", and would order ids in a way
// that disagrees with JavaScript's string order used for keyset cursors.
const asciiChar = customType<{ data: string; driverData: string; config: { length: number }; configRequired: true }>({
  dataType: ({ length }) => `char(${length}) CHARACTER SET ascii COLLATE ascii_bin`,
});
const asciiVarchar = customType<{ data: string; driverData: string; config: { length: number }; configRequired: true }>({
  dataType: ({ length }) => `varchar(${length}) CHARACTER SET ascii COLLATE ascii_bin`,
});
const utf8Text = customType<{ data: string; driverData: string }>({
  dataType: () => "mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
});
const utf8Varchar = customType<{ data: string; driverData: string; config: { length: number }; configRequired: true }>({
  dataType: ({ length }) => `varchar(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
});

// The enums' members are the domain's lists (domain/file.ts).
export const fileStatuses = FILE_STATUSES;
export const filePurposes = FILE_PURPOSES;
export const processingStatuses = PROCESSING_STATUSES;
export const scanStatuses = SCAN_STATUSES;
export const taskStatuses = TASK_STATUSES;

// datetime mode "date" is UTC both ways whatever the process TZ: drizzle writes
// Date#toISOString() digits and its mysql2 session reads DATETIME as a string
// that it parses with a "Z" suffix. fsp 3 keeps the milliseconds of a JS Date.
const timestamp = (name: string) => datetime(name, { mode: "date", fsp: 3 });

export const files = mysqlTable(
  "files",
  {
    // UUIDv7 as text: its lexical order is creation order, so "ORDER BY id DESC" is newest first.
    id: asciiChar("id", { length: 36 }).primaryKey(),
    ownerId: utf8Varchar("owner_id", { length: 255 }).notNull(),
    filename: utf8Varchar("filename", { length: 255 }).notNull(),
    contentType: utf8Varchar("content_type", { length: 100 }).notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number", unsigned: true }).notNull(),
    md5: asciiChar("md5", { length: 24 }).notNull(),
    status: mysqlEnum("status", fileStatuses).notNull(),
    objectKey: utf8Varchar("object_key", { length: 512 }).notNull(),
    createdAt: timestamp("created_at").notNull(),
    uploadedAt: timestamp("uploaded_at"),
    deletedAt: timestamp("deleted_at"),
    purpose: mysqlEnum("purpose", filePurposes).notNull().default("unspecified"),
    // Lowercase hex SHA-256 of the content, once known.
    sha256: asciiChar("sha256", { length: 64 }),
    // The dedup key: sha256 while the file is live and the owner's only live file
    // with that hash, NULL otherwise (deleted, not hashed yet, or a duplicate that
    // arrived through a presigned upload). Unique per owner; NULLs never collide.
    dedupSha256: asciiChar("dedup_sha256", { length: 64 }),
    width: int("width"),
    height: int("height"),
    blurhash: asciiVarchar("blurhash", { length: 64 }),
    processingStatus: mysqlEnum("processing_status", processingStatuses).notNull().default("pending"),
    processingError: utf8Varchar("processing_error", { length: 1000 }),
    // The work queue (see FileRepository): claims so far, when a pending job is
    // due (NULL: not due, e.g. a presigned upload not confirmed yet), and who
    // holds a processing job until when.
    processingAttempts: int("processing_attempts").notNull().default(0),
    processingDueAt: timestamp("processing_due_at"),
    processingLockedBy: utf8Varchar("processing_locked_by", { length: 64 }),
    processingLockedUntil: timestamp("processing_locked_until"),
    processingWebpQuality: int("processing_webp_quality"),
    scanStatus: mysqlEnum("scan_status", scanStatuses).notNull().default("not_scanned"),
    scanSignature: utf8Varchar("scan_signature", { length: 255 }),
    scanError: utf8Varchar("scan_error", { length: 1000 }),
    scannedAt: timestamp("scanned_at"),
    uploadExpiresAt: timestamp("upload_expires_at"),
    // When a pending file expires (its upload window plus the grace period, fixed
    // when the row is made): the expiry sweep's queue, NULL once not pending.
    expireDueAt: timestamp("expire_due_at"),
    // A create call's idempotency key, the file's place in that call, and the
    // SHA-256 of what the call asked: a retry finds these and gets the same files.
    idempotencyKey: utf8Varchar("idempotency_key", { length: 128 }),
    idempotencySeq: int("idempotency_seq"),
    idempotencyFingerprint: asciiChar("idempotency_fingerprint", { length: 64 }),
  },
  (t) => [
    // Serves list(): owner's rows walked backwards by id, status filtered on the way.
    index("files_owner_id_id_idx").on(t.ownerId, t.id),
    // insertUploaded's dedup arbiter, and findByContentHash.
    uniqueIndex("files_owner_id_dedup_sha256_key").on(t.ownerId, t.dedupSha256),
    // Serves claimProcessing: pending jobs by due time, and the (few) processing ones.
    index("files_processing_status_due_at_idx").on(t.processingStatus, t.processingDueAt),
    // Serves the expiry sweep: pending files by due time.
    index("files_status_expire_due_at_idx").on(t.status, t.expireDueAt),
    // Concurrent calls with one key: exactly one inserts each position.
    uniqueIndex("files_owner_id_idempotency_key").on(t.ownerId, t.idempotencyKey, t.idempotencySeq),
  ],
);

// The outbox: side effects queued in the same transaction as the state change
// that causes them (see domain/task.ts). A finished task is deleted; a task out
// of attempts stays, failed, for an operator (npm run tasks).
export const tasks = mysqlTable(
  "tasks",
  {
    // Creation order: tasks sharing an order key run in this order.
    id: bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey(),
    kind: asciiVarchar("kind", { length: 32 }).notNull(),
    fileId: asciiChar("file_id", { length: 36 }),
    ownerId: utf8Varchar("owner_id", { length: 255 }),
    payload: utf8Text("payload"),
    orderKey: utf8Varchar("order_key", { length: 191 }),
    status: mysqlEnum("status", taskStatuses).notNull(),
    dueAt: timestamp("due_at").notNull(),
    attempts: int("attempts").notNull().default(0),
    lockedBy: utf8Varchar("locked_by", { length: 64 }),
    lockedUntil: timestamp("locked_until"),
    lastError: utf8Varchar("last_error", { length: 1000 }),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    // Serves claimTasks: queued tasks by due time, running ones by lease.
    index("tasks_status_due_at_idx").on(t.status, t.dueAt),
    index("tasks_order_key_id_idx").on(t.orderKey, t.id),
    index("tasks_file_id_idx").on(t.fileId),
  ],
);

// The processed renditions of a file; replaced as a whole by completeProcessing.
// No foreign key to files, as in the SQLite schema (where libsql enforces foreign
// keys and drizzle-kit's table rebuilds would cascade into this table): rows of
// files are never removed, and variants are only written by the transaction that
// checks the file row.
export const fileVariants = mysqlTable(
  "file_variants",
  {
    fileId: asciiChar("file_id", { length: 36 }).notNull(),
    name: asciiVarchar("name", { length: 32 }).notNull(),
    width: int("width").notNull(),
    height: int("height").notNull(),
    contentType: utf8Varchar("content_type", { length: 100 }).notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number", unsigned: true }).notNull(),
    objectKey: utf8Varchar("object_key", { length: 512 }).notNull(),
  },
  (t) => [primaryKey({ name: "file_variants_file_id_name_pk", columns: [t.fileId, t.name] })],
);

/** The columns of files that make a FileRecord (without its variants); the rest is internal. */
export const fileRecordColumns = {
  id: files.id,
  ownerId: files.ownerId,
  filename: files.filename,
  contentType: files.contentType,
  sizeBytes: files.sizeBytes,
  md5: files.md5,
  status: files.status,
  objectKey: files.objectKey,
  createdAt: files.createdAt,
  uploadedAt: files.uploadedAt,
  deletedAt: files.deletedAt,
  purpose: files.purpose,
  sha256: files.sha256,
  width: files.width,
  height: files.height,
  blurhash: files.blurhash,
  processingStatus: files.processingStatus,
  processingError: files.processingError,
  scanStatus: files.scanStatus,
  scanSignature: files.scanSignature,
  scanError: files.scanError,
  scannedAt: files.scannedAt,
  uploadExpiresAt: files.uploadExpiresAt,
};

/** The columns of files that make a ProcessingJob. */
export const processingJobColumns = {
  fileId: files.id,
  ownerId: files.ownerId,
  objectKey: files.objectKey,
  contentType: files.contentType,
  purpose: files.purpose,
  webpQuality: files.processingWebpQuality,
  attempts: files.processingAttempts,
  sizeBytes: files.sizeBytes,
  scanStatus: files.scanStatus,
};

// Compile-time guards: the schema and the interface cannot drift apart silently.
type Assert<T extends true> = T;
type FileRow = typeof files.$inferSelect;
export type RowIsFileRecord = Assert<FileRow extends Omit<FileRecord, "variants"> ? true : false>;
export type RecordColumnsAreComplete = Assert<
  keyof Omit<FileRecord, "variants"> extends keyof typeof fileRecordColumns ? true : false
>;
export type VariantRowIsVariantRecord = Assert<typeof fileVariants.$inferSelect extends VariantRecord ? true : false>;
