// What the MySQL and SQLite repositories do alike, written once over the few
// statements each dialect gives (its query builders and result shapes differ,
// the rules do not: they are in file-conditions.ts). The repository contract
// suite runs both.
import { and, asc, count, desc, eq, inArray, isNull, lt, lte, type AnyColumn, type SQL } from "drizzle-orm";
import type { FileRecord, FileStatus, NewUploadedFile, VariantRecord } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import {
  claimHeldBy,
  countsByStatus,
  deletedValues,
  failedValues,
  holdingHash,
  listedBy,
  notDeletedAmong,
  pendingAmong,
  queuedValues,
  uploadedAmong,
  withVariants,
  type ProcessingColumns,
} from "./file-conditions.js";
import type { FileChange, TaskTemplate } from "./outbox.js";
import type { Idempotency, ScanResult } from "../domain/file.js";
import { FileError } from "../domain/errors.js";

/** A scan's result as the files columns keep it. */
function scanValues(scan: ScanResult) {
  return {
    scanStatus: scan.status,
    scanSignature: scan.status === "infected" ? scan.signature.slice(0, 255) : null,
    scanError: scan.status === "error" ? scan.reason.slice(0, 1000) : null,
    scannedAt: scan.at,
  };
}

/** The columns the lifecycle's changes use besides the processing queue. */
export interface LifecycleColumns extends ProcessingColumns {
  expireDueAt: AnyColumn;
  idempotencyKey: AnyColumn;
  createdAt: AnyColumn;
}

/** The statements a dialect provides. */
export interface DialectStatements {
  /** The records (without variants) matching `where`, newest (highest id) first. */
  selectRecords(where: SQL | undefined, limit?: number): Promise<Array<Omit<FileRecord, "variants">>>;
  /** The variants of these files, by file then name. */
  selectVariants(fileIds: readonly string[]): Promise<Array<VariantRecord & { fileId: string }>>;
  /** UPDATE files SET `values` WHERE `where`; how many rows it changed. */
  updateFiles(values: Record<string, unknown>, where: SQL | undefined): Promise<number>;
  /**
   * Inserts an uploaded file's row and, with it, the tasks of `templates`;
   * false (nothing inserted) when the owner's dedup key is taken.
   */
  insertUploadedRow(row: Record<string, unknown>, templates: readonly TaskTemplate[], at: Date): Promise<boolean>;
  /** Applies a change and queues its tasks atomically; the ids of the rows it changed. */
  changeFiles(change: FileChange): Promise<string[]>;
  /** Whether an error is the owner's dedup key being taken (the unique key on owner_id, dedup_sha256). */
  isDedupConflict(error: unknown): boolean;
  /** DELETE FROM files WHERE `where`. */
  deleteFiles(where: SQL | undefined): Promise<void>;
  /** The idempotency columns of the rows matching `where`, by seq. */
  selectIdempotency(where: SQL | undefined): Promise<Array<{ id: string; seq: number | null; fingerprint: string | null; createdAt: Date }>>;
  /** Rows per status. */
  countStatuses(): Promise<Array<{ status: FileStatus; count: number }>>;
}

/**
 * drizzle's select builder as both dialects have it: the chain is the same,
 * its types are not (MySqlDatabase vs LibSQLDatabase), so it is typed loosely
 * here and each dialect's use is checked by the repository contract suite.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SelectBuilder = { select: (...args: any[]) => any };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DeleteBuilder = { delete: (...args: any[]) => any };

/** The statements written the same on either dialect (only the result shapes of writes differ). */
export function commonStatements(
  db: SelectBuilder & DeleteBuilder,
  files: { id: AnyColumn; status: AnyColumn; idempotencySeq: AnyColumn; idempotencyFingerprint: AnyColumn; createdAt: AnyColumn },
  table: unknown,
): Pick<DialectStatements, "deleteFiles" | "selectIdempotency" | "countStatuses"> {
  return {
    deleteFiles: async (where) => {
      await db.delete(table).where(where);
    },
    selectIdempotency: (where) =>
      db
        .select({ id: files.id, seq: files.idempotencySeq, fingerprint: files.idempotencyFingerprint, createdAt: files.createdAt })
        .from(table)
        .where(where)
        .orderBy(asc(files.idempotencySeq)),
    countStatuses: () => db.select({ status: files.status, count: count() }).from(table).groupBy(files.status),
  };
}

/** The two reads behind readRecords, the same statements on either dialect. */
export function recordReads(
  db: SelectBuilder,
  tables: { files: { id: AnyColumn }; fileVariants: { fileId: AnyColumn; name: AnyColumn }; columns: Record<string, AnyColumn> },
): Pick<DialectStatements, "selectRecords" | "selectVariants"> {
  const { files, fileVariants, columns } = tables;
  return {
    selectRecords: (where, limit) => {
      const query = db.select(columns).from(files).where(where).orderBy(desc(files.id));
      return limit === undefined ? query : query.limit(limit);
    },
    selectVariants: (ids) =>
      db.select().from(fileVariants).where(inArray(fileVariants.fileId, [...ids])).orderBy(asc(fileVariants.fileId), asc(fileVariants.name)),
  };
}

type SharedMethods = Pick<
  FileRepository,
  | "insertUploaded"
  | "findByContentHash"
  | "markUploaded"
  | "markDeleted"
  | "list"
  | "countByStatus"
  | "requestProcessing"
  | "requeueUnqueued"
  | "recordScan"
  | "quarantine"
  | "fulfilIntent"
  | "abandonIntent"
  | "findByIdempotencyKey"
  | "releaseIdempotencyKey"
  | "storedObjects"
  | "failProcessing"
  | "expireDue"
  | "statusesOf"
  | "pageByStatus"
  | "markMissing"
>;

// How often insertUploaded tries again when the file it collided with was
// deleted before it could be read (each round needs a concurrent delete).
const INSERT_UPLOADED_ROUNDS = 3;

/** A record's idempotency as the files columns keep it. */
export function idempotencyColumns(idempotency: Idempotency | undefined) {
  return {
    idempotencyKey: idempotency?.key ?? null,
    idempotencySeq: idempotency?.seq ?? null,
    idempotencyFingerprint: idempotency?.fingerprint ?? null,
  };
}

/** An uploaded file's row (quarantined when the scan found something) and the tasks its recording queues. */
function uploadedRow({ sha256, uploadedAt, processing, scan, uploadExpiresAt: _u, expireDueAt: _e, idempotency, ...record }: NewUploadedFile): {
  row: Record<string, unknown>;
  templates: TaskTemplate[];
} {
  if (scan?.status === "infected") {
    // Never served, never a dedup match, nothing made of it.
    return {
      row: { ...record, ...idempotencyColumns(idempotency), status: "quarantined", uploadedAt, sha256, dedupSha256: null, processingStatus: "cancelled", ...scanValues(scan), expireDueAt: null },
      templates: [{ kind: "quarantine" }, { kind: "publish", type: "quarantined" }],
    };
  }
  return {
    row: { ...record, ...idempotencyColumns(idempotency), status: "uploaded", uploadedAt, sha256, dedupSha256: sha256, ...queuedValues(processing, uploadedAt), ...(scan ? scanValues(scan) : {}), expireDueAt: null },
    templates: [{ kind: "publish", type: "uploaded" }],
  };
}

export function sharedMethods(
  d: DialectStatements,
  files: LifecycleColumns,
  run: <T>(operation: () => Promise<T>) => Promise<T>,
): SharedMethods & { readRecords(where: SQL | undefined, limit?: number): Promise<FileRecord[]> } {
  /** The records matching `where`, each with its variants: two queries whatever their number. */
  async function readRecords(where: SQL | undefined, limit?: number): Promise<FileRecord[]> {
    const records = await d.selectRecords(where, limit);
    if (records.length === 0) return [];
    return withVariants(records, await d.selectVariants(records.map((r) => r.id)));
  }

  const updateAmong = (values: Record<string, unknown>, where: SQL | undefined, ids: readonly string[]) =>
    run(async () => (ids.length === 0 ? 0 : d.updateFiles(values, where)));
  const changeAmong = (ids: readonly string[], change: FileChange) =>
    run(async () => (ids.length === 0 ? 0 : (await d.changeFiles(change)).length));

  return {
    readRecords,

    insertUploaded: (file: NewUploadedFile) =>
      run(async () => {
        const { row, templates } = uploadedRow(file);
        if (row.status === "quarantined") {
          await d.insertUploadedRow(row, templates, file.uploadedAt);
          return { inserted: true as const };
        }
        // The unique key (owner_id, dedup_sha256) decides between concurrent
        // identical uploads: exactly one INSERT inserts, the others read its row.
        for (let round = 1; ; round++) {
          if (await d.insertUploadedRow(row, templates, file.uploadedAt)) return { inserted: true as const };
          const [existing] = await readRecords(holdingHash(files, file.ownerId, file.sha256));
          if (existing) return { inserted: false as const, existing };
          // Deleted (its key freed) in between: the next INSERT can succeed.
          if (round === INSERT_UPLOADED_ROUNDS) {
            throw new Error(`insertUploaded: the file holding ${file.sha256} kept disappearing`);
          }
        }
      }),

    fulfilIntent: (file: NewUploadedFile) =>
      run(async () => {
        const { row, templates } = uploadedRow(file);
        const { id, ownerId, ...values } = row;
        const where = pendingAmong(files, ownerId as string, [id as string]);
        for (let round = 1; ; round++) {
          try {
            const changed = await d.changeFiles({ where, values, templates, at: file.uploadedAt });
            if (changed.length === 0) throw new FileError("failed_precondition", `file ${file.id} expired before its upload finished: upload it again`);
            return { inserted: true as const };
          } catch (error) {
            if (!d.isDedupConflict(error)) throw error;
          }
          const [existing] = await readRecords(holdingHash(files, file.ownerId, file.sha256));
          if (existing) return { inserted: false as const, existing };
          if (round === INSERT_UPLOADED_ROUNDS) throw new Error(`fulfilIntent: the file holding ${file.sha256} kept disappearing`);
        }
      }),

    storedObjects: (fileId) =>
      run(async () => {
        const [record] = await readRecords(eq(files.id, fileId));
        return record && { status: record.status, keys: [record.objectKey, ...record.variants.map((v) => v.objectKey)] };
      }),

    findByIdempotencyKey: (ownerId, key) =>
      run(async () =>
        (await d.selectIdempotency(and(eq(files.ownerId, ownerId), eq(files.idempotencyKey, key)))).map((r) => ({
          id: r.id,
          seq: r.seq ?? 0,
          fingerprint: r.fingerprint ?? "",
          createdAt: r.createdAt,
        })),
      ),

    releaseIdempotencyKey: (ownerId, key, before) =>
      run(async () =>
        d.updateFiles(
          { idempotencyKey: null, idempotencySeq: null, idempotencyFingerprint: null },
          and(eq(files.ownerId, ownerId), eq(files.idempotencyKey, key), lt(files.createdAt, before)),
        ),
      ),

    abandonIntent: (ownerId, id, objectsGone, purgeAt) =>
      run(async () => {
        const where = pendingAmong(files, ownerId, [id]);
        if (objectsGone) return d.deleteFiles(where);
        // Its bytes may be in the store: expired now, and purged (from purgeAt) when the store answers.
        const at = purgeAt ?? new Date();
        await d.changeFiles({ where, values: { status: "expired", expireDueAt: null }, templates: [{ kind: "purge" }], at });
      }),

    findByContentHash: (ownerId, sha256) => run(async () => (await readRecords(holdingHash(files, ownerId, sha256)))[0]),

    // Uploaded and queued for processing by one statement: no file is ever
    // uploaded without its processing queued.
    markUploaded: (ownerId, ids, at, options) =>
      changeAmong(ids, {
        where: pendingAmong(files, ownerId, ids),
        values: {
          status: "uploaded",
          uploadedAt: at,
          expireDueAt: null,
          ...queuedValues({ webpQuality: null }, at),
          ...(options?.scan ? { scanStatus: "pending" } : {}),
        },
        templates: [{ kind: "publish", type: "uploaded" }],
        at,
      }),

    requeueUnqueued: (ownerId, ids, at) =>
      updateAmong(
        { processingDueAt: at },
        and(uploadedAmong(files, ownerId, ids), eq(files.processingStatus, "pending"), isNull(files.processingDueAt)),
        ids,
      ),

    markDeleted: (ownerId, ids, at) =>
      changeAmong(ids, {
        where: notDeletedAmong(files, ownerId, ids),
        values: { status: "deleted", deletedAt: at, expireDueAt: null, ...deletedValues(files) },
        templates: [{ kind: "purge" }, { kind: "publish", type: "deleted" }],
        at,
      }),

    expireDue: (now, limit) =>
      run(async () =>
        limit < 1
          ? []
          : d.changeFiles({
              where: and(eq(files.status, "pending"), lte(files.expireDueAt, now)),
              values: { status: "expired", expireDueAt: null, processingStatus: "cancelled", processingDueAt: null },
              templates: [{ kind: "purge" }, { kind: "publish", type: "expired" }],
              at: now,
              limit: { count: limit, orderBy: [asc(files.expireDueAt), asc(files.id)] },
            }),
      ),

    list: (query) =>
      run(async () => (query.statuses.length === 0 || query.limit < 1 ? [] : readRecords(listedBy(files, query), query.limit))),

    countByStatus: () => run(async () => countsByStatus(await d.countStatuses())),

    statusesOf: (ids) =>
      run(async () => {
        if (ids.length === 0) return new Map<string, FileStatus>();
        const rows = await d.selectRecords(inArray(files.id, [...new Set(ids)]));
        return new Map(rows.map((r) => [r.id, r.status]));
      }),

    pageByStatus: ({ status, beforeId, limit }) =>
      run(async () => (limit < 1 ? [] : readRecords(and(eq(files.status, status), beforeId === undefined ? undefined : lt(files.id, beforeId)), limit))),

    markMissing: (ids, at) =>
      run(async () =>
        ids.length === 0
          ? []
          : d.changeFiles({
              where: and(inArray(files.id, [...new Set(ids)]), eq(files.status, "uploaded")),
              values: { status: "missing", ...deletedValues(files) },
              templates: [{ kind: "publish", type: "missing" }],
              at,
            }),
      ),

    requestProcessing: (ownerId, ids, request, at) => updateAmong(queuedValues(request, at), uploadedAmong(files, ownerId, ids), ids),

    recordScan: (fileId, workerId, result) =>
      run(async () => {
        // Clean: the scan's claims (scanner outages) spent no processing attempts; this claim is the first.
        const values = result.status === "clean" ? { ...scanValues(result), processingAttempts: 1 } : scanValues(result);
        return (await d.updateFiles(values, claimHeldBy(files, fileId, workerId))) > 0;
      }),

    quarantine: (fileId, workerId, result) =>
      run(
        async () =>
          (
            await d.changeFiles({
              where: claimHeldBy(files, fileId, workerId),
              values: { status: "quarantined", ...scanValues(result), dedupSha256: null, ...failedValues("quarantined: the malware scan found " + result.signature, null), processingStatus: "cancelled" },
              templates: [{ kind: "quarantine" }, { kind: "publish", type: "quarantined" }],
              at: result.at,
            })
          ).length > 0,
      ),

    failProcessing: (fileId, workerId, error, retryAt) =>
      run(async () => {
        const values = failedValues(error, retryAt);
        const held = claimHeldBy(files, fileId, workerId);
        if (retryAt) return (await d.updateFiles(values, held)) > 0;
        // Failed for good: a change the world hears about.
        const at = new Date();
        return (await d.changeFiles({ where: held, values, templates: [{ kind: "publish", type: "processing_failed" }], at })).length > 0;
      }),
  };
}
