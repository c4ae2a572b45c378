// What the MySQL and SQLite repositories do alike, written once over the few
// statements each dialect gives (its query builders and result shapes differ,
// the rules do not: they are in file-conditions.ts). The repository contract
// suite runs both.
import { asc, desc, inArray, type AnyColumn, type SQL } from "drizzle-orm";
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

/** The statements a dialect provides. */
export interface DialectStatements {
  /** The records (without variants) matching `where`, newest (highest id) first. */
  selectRecords(where: SQL | undefined, limit?: number): Promise<Array<Omit<FileRecord, "variants">>>;
  /** The variants of these files, by file then name. */
  selectVariants(fileIds: readonly string[]): Promise<Array<VariantRecord & { fileId: string }>>;
  /** UPDATE files SET `values` WHERE `where`; how many rows it changed. */
  updateFiles(values: Record<string, unknown>, where: SQL | undefined): Promise<number>;
  /** Inserts an uploaded file's row; false (nothing inserted) when the owner's dedup key is taken. */
  insertUploadedRow(row: Record<string, unknown>): Promise<boolean>;
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
  | "failProcessing"
>;

// How often insertUploaded tries again when the file it collided with was
// deleted before it could be read (each round needs a concurrent delete).
const INSERT_UPLOADED_ROUNDS = 3;

export function sharedMethods(
  d: DialectStatements,
  files: ProcessingColumns,
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

  return {
    readRecords,

    insertUploaded: ({ sha256, uploadedAt, processing, ...record }: NewUploadedFile) =>
      run(async () => {
        const row = { ...record, status: "uploaded", uploadedAt, sha256, dedupSha256: sha256, ...queuedValues(processing, uploadedAt) };
        // The unique key (owner_id, dedup_sha256) decides between concurrent
        // identical uploads: exactly one INSERT inserts, the others read its row.
        for (let round = 1; ; round++) {
          if (await d.insertUploadedRow(row)) return { inserted: true as const };
          const [existing] = await readRecords(holdingHash(files, record.ownerId, sha256));
          if (existing) return { inserted: false as const, existing };
          // Deleted (its key freed) in between: the next INSERT can succeed.
          if (round === INSERT_UPLOADED_ROUNDS) {
            throw new Error(`insertUploaded: the file holding ${sha256} kept disappearing`);
          }
        }
      }),

    findByContentHash: (ownerId, sha256) => run(async () => (await readRecords(holdingHash(files, ownerId, sha256)))[0]),

    // Processing stays pending but not due: the caller queues it (requestProcessing).
    markUploaded: (ownerId, ids, at) => updateAmong({ status: "uploaded", uploadedAt: at }, pendingAmong(files, ownerId, ids), ids),

    markDeleted: (ownerId, ids, at) =>
      updateAmong({ status: "deleted", deletedAt: at, ...deletedValues(files) }, notDeletedAmong(files, ownerId, ids), ids),

    list: (query) =>
      run(async () => (query.statuses.length === 0 || query.limit < 1 ? [] : readRecords(listedBy(files, query), query.limit))),

    countByStatus: () => run(async () => countsByStatus(await d.countStatuses())),

    requestProcessing: (ownerId, ids, request, at) => updateAmong(queuedValues(request, at), uploadedAmong(files, ownerId, ids), ids),

    failProcessing: (fileId, workerId, error, retryAt) =>
      run(async () => (await d.updateFiles(failedValues(error, retryAt), claimHeldBy(files, fileId, workerId))) > 0),
  };
}
