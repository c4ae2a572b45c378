// The SQLite/libSQL tables behind FileRepository (embedded mode): the same columns
// and meaning as src/db/mysql/schema.ts. Change them only together with a generated
// migration (npx drizzle-kit generate --config drizzle.sqlite.config.ts); CI runs
// scripts/check-migrations.sh to catch a schema change without one.
import { type SQL, sql } from "drizzle-orm";
import {
  type AnySQLiteColumn,
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";
import { TASK_STATUSES } from "../../domain/task.js";
import { FILE_PURPOSES, FILE_STATUSES, PROCESSING_STATUSES, SCAN_STATUSES, type FileRecord, type VariantRecord } from "../../domain/file.js";

// The enums' members are the domain's lists (domain/file.ts).
const fileStatuses = FILE_STATUSES;
const filePurposes = FILE_PURPOSES;
const processingStatuses = PROCESSING_STATUSES;
const scanStatuses = SCAN_STATUSES;
const taskStatuses = TASK_STATUSES;

// Milliseconds since the epoch in an INTEGER: exact round-trip of a JS Date, no
// time zone or text format involved.
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

// `enum` on a text column is only a TypeScript type; SQLite has no ENUM, so the
// database enforces the values itself, as MySQL's ENUM does.
// Unqualified column names: drizzle-kit copies checks verbatim when it rebuilds
// a table under a temporary name, where "files"."status" would not resolve.
const oneOf = (column: AnySQLiteColumn, values: readonly string[]): SQL =>
  sql`${sql.identifier(column.name)} IN (${sql.raw(values.map((v) => `'${v}'`).join(", "))})`;
const notNegative = (column: AnySQLiteColumn): SQL => sql`${sql.identifier(column.name)} >= 0`;

// SQLite's default BINARY collation already compares and orders text bytewise,
// which is what owner scoping and the id keyset cursor need (see the MySQL schema).
export const files = sqliteTable(
  "files",
  {
    // UUIDv7 as text: its lexical order is creation order, so "ORDER BY id DESC" is newest first.
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes", { mode: "number" }).notNull(),
    md5: text("md5").notNull(),
    status: text("status", { enum: fileStatuses }).notNull(),
    objectKey: text("object_key").notNull(),
    createdAt: timestamp("created_at").notNull(),
    uploadedAt: timestamp("uploaded_at"),
    deletedAt: timestamp("deleted_at"),
    purpose: text("purpose", { enum: filePurposes }).notNull().default("unspecified"),
    // Lowercase hex SHA-256 of the content, once known.
    sha256: text("sha256"),
    // The dedup key: sha256 while the file is live and the owner's only live file
    // with that hash, NULL otherwise (deleted, not hashed yet, or a duplicate that
    // arrived through a presigned upload). Unique per owner; NULLs never collide.
    dedupSha256: text("dedup_sha256"),
    width: integer("width", { mode: "number" }),
    height: integer("height", { mode: "number" }),
    blurhash: text("blurhash"),
    processingStatus: text("processing_status", { enum: processingStatuses }).notNull().default("pending"),
    processingError: text("processing_error"),
    // The work queue (see FileRepository): claims so far, when a pending job is
    // due (NULL: not due, e.g. a presigned upload not confirmed yet), and who
    // holds a processing job until when.
    processingAttempts: integer("processing_attempts", { mode: "number" }).notNull().default(0),
    processingDueAt: timestamp("processing_due_at"),
    processingLockedBy: text("processing_locked_by"),
    processingLockedUntil: timestamp("processing_locked_until"),
    processingWebpQuality: integer("processing_webp_quality", { mode: "number" }),
    scanStatus: text("scan_status", { enum: scanStatuses }).notNull().default("not_scanned"),
    scanSignature: text("scan_signature"),
    scanError: text("scan_error"),
    scannedAt: timestamp("scanned_at"),
    uploadExpiresAt: timestamp("upload_expires_at"),
    // When a pending file expires (see the MySQL schema).
    expireDueAt: timestamp("expire_due_at"),
    // See the MySQL schema.
    idempotencyKey: text("idempotency_key"),
    idempotencySeq: integer("idempotency_seq", { mode: "number" }),
    idempotencyFingerprint: text("idempotency_fingerprint"),
  },
  (t) => [
    // Serves list(): owner's rows walked backwards by id, status filtered on the way.
    index("files_owner_id_id_idx").on(t.ownerId, t.id),
    // insertUploaded's dedup arbiter (its ON CONFLICT target), and findByContentHash.
    uniqueIndex("files_owner_id_dedup_sha256_key").on(t.ownerId, t.dedupSha256),
    // Serves claimProcessing: pending jobs by due time, and the (few) processing ones.
    index("files_processing_status_due_at_idx").on(t.processingStatus, t.processingDueAt),
    index("files_status_expire_due_at_idx").on(t.status, t.expireDueAt),
    uniqueIndex("files_owner_id_idempotency_key").on(t.ownerId, t.idempotencyKey, t.idempotencySeq),
    check("files_status_check", oneOf(t.status, fileStatuses)),
    check("files_purpose_check", oneOf(t.purpose, filePurposes)),
    check("files_processing_status_check", oneOf(t.processingStatus, processingStatuses)),
    check("files_scan_status_check", oneOf(t.scanStatus, scanStatuses)),
    // Stands in for MySQL's UNSIGNED.
    check("files_size_bytes_check", notNegative(t.sizeBytes)),
  ],
);

// The outbox (see the MySQL schema and domain/task.ts).
export const tasks = sqliteTable(
  "tasks",
  {
    id: integer("id", { mode: "number" }).primaryKey({ autoIncrement: true }),
    kind: text("kind").notNull(),
    fileId: text("file_id"),
    ownerId: text("owner_id"),
    payload: text("payload"),
    orderKey: text("order_key"),
    status: text("status", { enum: taskStatuses }).notNull(),
    dueAt: timestamp("due_at").notNull(),
    attempts: integer("attempts", { mode: "number" }).notNull().default(0),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    index("tasks_status_due_at_idx").on(t.status, t.dueAt),
    index("tasks_order_key_id_idx").on(t.orderKey, t.id),
    index("tasks_file_id_idx").on(t.fileId),
    check("tasks_status_check", oneOf(t.status, taskStatuses)),
  ],
);

// The processed renditions of a file; replaced as a whole by completeProcessing.
// No foreign key to files: libsql enforces foreign keys, and drizzle-kit rebuilds
// a table (to change a CHECK, say) by dropping it inside the migrator's
// transaction, where its "PRAGMA foreign_keys=OFF" has no effect, so the drop
// would cascade into (or fail on) this table. Rows of files are never removed,
// and variants are only written by the batch that checks the file row.
export const fileVariants = sqliteTable(
  "file_variants",
  {
    fileId: text("file_id").notNull(),
    name: text("name").notNull(),
    width: integer("width", { mode: "number" }).notNull(),
    height: integer("height", { mode: "number" }).notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes", { mode: "number" }).notNull(),
    objectKey: text("object_key").notNull(),
  },
  (t) => [
    primaryKey({ name: "file_variants_file_id_name_pk", columns: [t.fileId, t.name] }),
    check("file_variants_size_bytes_check", notNegative(t.sizeBytes)),
  ],
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
