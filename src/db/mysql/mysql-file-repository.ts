// FileRepository on MySQL 8 / MariaDB 10.11 through a mysql2 pool and drizzle;
// the calls on every request (insertPending, findByIds) as plain SQL written
// once, since building a drizzle query costs more client CPU than the database
// call it makes.
import { asc, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/mysql2";
import mysql from "mysql2/promise";
import { classifyDatabaseError, findInCauseChain, runClassified } from "../driver-errors.js";
import type { FileRecord, NewFileRecord, ProcessingJob, ProcessingResult } from "../../domain/file.js";
import type { FileRepository } from "../../domain/file-repository.js";
import { IdempotencyConflictError } from "../../domain/errors.js";
import { claimedValues, claimHeldBy, completedValues, leaseExpired, pendingDue, variantRows } from "../file-conditions.js";
import { fileRecordColumns, files, fileVariants, processingJobColumns } from "./schema.js";
import { idempotencyColumns, commonStatements, recordReads, sharedMethods } from "../shared-methods.js";
import { changeFiles, mysqlTaskQueue, queueFor } from "./mysql-outbox.js";

export interface MysqlFileRepositoryOptions {
  /** Pool size; default 16. */
  connectionLimit?: number;
  /** Each operation's bound (DB_QUERY_TIMEOUT_MS): past it, DependencyUnavailableError. Default 5000. */
  queryTimeoutMs?: number;
}

export function createMysqlFileRepository(
  databaseUrl: string,
  options: MysqlFileRepositoryOptions = {},
): FileRepository {
  const pool = mysql.createPool({
    uri: databaseUrl,
    connectionLimit: options.connectionLimit ?? 16,
    // A dead or unroutable database must fail a request fast, not hang it.
    connectTimeout: 3_000,
    // Lets the OS notice peers that vanished (failover, NAT drop) on idle connections.
    enableKeepAlive: true,
    // drizzle's datetime columns convert to UTC themselves; this covers the raw
    // statements (insertPending, findByIds): mysql2 writes and reads DATETIME in
    // UTC instead of the process's time zone.
    timezone: "Z",
    // No stack captured per query (mysql2 does it for every call by default, on
    // the hot path): a failure keeps its code and message, which is what callers map.
    trace: false,
  });
  const db = drizzle({ client: pool });
  let closing: Promise<void> | undefined;

  // Every operation goes through here so that callers see DependencyUnavailableError
  // for an unreachable database and the original error for anything else.
  const timeoutMs = options.queryTimeoutMs ?? 5_000;
  const run = <T>(operation: () => Promise<T>): Promise<T> => runClassified(operation, toRepositoryError, timeoutMs);

  const shared = sharedMethods(
    {
      ...recordReads(db, { files, fileVariants, columns: fileRecordColumns }),
      // mysql2 counts matched rows (CLIENT_FOUND_ROWS); each condition makes every matched row a changed one.
      updateFiles: async (values, where) => (await db.update(files).set(values).where(where))[0].affectedRows,
      insertUploadedRow: async (row, templates, at) => {
        try {
          await db.transaction(
            async (tx) => {
              await tx.insert(files).values(row as typeof files.$inferInsert);
              await queueFor(tx, row.id as string, templates, at);
            },
            { isolationLevel: "read committed" },
          );
          return true;
        } catch (error) {
          if (isDedupConflict(error)) return false;
          throw error;
        }
      },
      changeFiles: (change) => changeFiles(db, change),
      isDedupConflict,
      ...commonStatements(db, files, files),
    },
    files,
    run,
  );

  /**
   * The owner's records among `ids` (ownedAmong) with their variants, in one
   * round trip and without building a query: a prepared statement joining the
   * variants (one row per variant). The id list is padded to a power of two
   * (repeating an id changes nothing), so each connection prepares at most 8
   * statements for up to 128 ids.
   */
  async function findRecords(ownerId: string, ids: readonly string[]): Promise<FileRecord[]> {
    const slots = 2 ** Math.ceil(Math.log2(ids.length));
    const params = [ownerId, ...ids];
    while (params.length <= slots) params.push(ids[ids.length - 1]!);
    const [rows] = await pool.execute<mysql.RowDataPacket[][]>(
      { sql: statements.ownedAmongWithVariants(slots), rowsAsArray: true },
      params,
    );
    return recordsFromJoinedRows(rows as unknown as JoinedRow[]);
  }

  return {
    ...shared,
    ...mysqlTaskQueue(db, run),

    insertPending: (records: readonly NewFileRecord[]) =>
      run(async () => {
        if (records.length === 0) return;
        const params: Array<string | number | Date | null> = [];
        for (const r of records) {
          const i = idempotencyColumns(r.idempotency);
          params.push(r.id, r.ownerId, r.filename, r.contentType, r.sizeBytes, r.md5, "pending", r.objectKey, r.createdAt, r.purpose, r.uploadExpiresAt ?? null, r.expireDueAt ?? null, i.idempotencyKey, i.idempotencySeq, i.idempotencyFingerprint);
        }
        // One multi-row INSERT, its text written once per row count (no query
        // building per call; not prepared: that would keep a statement per batch
        // size on every connection, and measured no faster). No BEGIN/COMMIT
        // around it: InnoDB runs a lone statement as its own transaction and
        // rolls all of it back on any error, so a batch still lands whole or not
        // at all (the repository contract tests it), in one round trip instead
        // of three.
        try {
          await pool.query(statements.insertPending(records.length), params);
        } catch (error) {
          const duplicate = findInCauseChain(error, ({ code }) => code === "ER_DUP_ENTRY");
          if (typeof duplicate?.message === "string" && duplicate.message.includes("files_owner_id_idempotency_key")) {
            throw new IdempotencyConflictError("another call with this idempotency key inserted first", { cause: error });
          }
          throw error;
        }
      }),

    findByIds: (ownerId: string, ids: readonly string[]) =>
      run(async (): Promise<FileRecord[]> => {
        if (ids.length === 0) return [];
        return findRecords(ownerId, ids);
      }),

    claimProcessing: ({ workerId, leaseMs, limit, now }) =>
      run(async (): Promise<ProcessingJob[]> => {
        if (limit < 1) return [];
        // Locking reads in index order, cut at the limit, lock only what they
        // return: SKIP LOCKED passes over rows another claimer (or a writer) holds,
        // so concurrent claimers take disjoint jobs without waiting. READ
        // COMMITTED: no gap locks, and rows read but not matching are released.
        return db.transaction(
          async (tx) => {
            const due = await tx
              .select({ id: files.id })
              .from(files)
              .where(pendingDue(files, now))
              .orderBy(asc(files.processingDueAt))
              .limit(limit)
              .for("update", { skipLocked: true });
            if (due.length < limit) {
              due.push(
                ...(await tx
                  .select({ id: files.id })
                  .from(files)
                  .where(leaseExpired(files, now))
                  .orderBy(asc(files.processingLockedUntil))
                  .limit(limit - due.length)
                  .for("update", { skipLocked: true })),
              );
            }
            if (due.length === 0) return [];
            const ids = due.map((row) => row.id);
            await tx
              .update(files)
              .set(claimedValues(files, { workerId, leaseMs }, now))
              .where(inArray(files.id, ids));
            return tx.select(processingJobColumns).from(files).where(inArray(files.id, ids));
          },
          { isolationLevel: "read committed" },
        );
      }),

    // The completion time (the interface's 4th argument) is not stored.
    completeProcessing: (fileId: string, workerId: string, result: ProcessingResult) =>
      run(async () => {
        return db.transaction(
          async (tx) => {
            // Locks the row: the claim cannot be lost (or the file deleted) until commit.
            const [updated] = await tx
              .update(files)
              .set({ ...completedValues(result), dedupSha256: null })
              .where(claimHeldBy(files, fileId, workerId));
            if (updated.affectedRows === 0) return false;
            await tx.delete(fileVariants).where(eq(fileVariants.fileId, fileId));
            const rows = variantRows(fileId, result.variants);
            if (rows.length > 0) await tx.insert(fileVariants).values(rows);
            // The dedup key, unless another live file of the owner holds this hash:
            // the unique key says so (MySQL cannot read the table it updates in a
            // subquery). A failed statement rolls back only itself, not the transaction.
            try {
              await tx.update(files).set({ dedupSha256: result.sha256 }).where(eq(files.id, fileId));
            } catch (error) {
              if (!isDedupConflict(error)) throw error;
            }
            await queueFor(tx, fileId, [{ kind: "publish", type: "processed" }], new Date());
            return true;
          },
          { isolationLevel: "read committed" },
        );
      }),

    ping: () =>
      run(async () => {
        await pool.query("SELECT 1");
      }),

    close: () => (closing ??= pool.end()),
  };
}

// The columns of statements.ownedAmongWithVariants, in order.
const joinedColumns = [
  files.id, files.ownerId, files.filename, files.contentType, files.sizeBytes, files.md5, files.status, files.objectKey,
  files.createdAt, files.uploadedAt, files.deletedAt, files.purpose, files.sha256, files.width, files.height,
  files.blurhash, files.processingStatus, files.processingError,
  files.scanStatus, files.scanSignature, files.scanError, files.scannedAt, files.uploadExpiresAt,
  fileVariants.name, fileVariants.width, fileVariants.height, fileVariants.contentType, fileVariants.sizeBytes,
  fileVariants.objectKey,
] as const;
// One row of it (mysql2 maps DATETIME to Date, BIGINT to number, ENUM to string).
export type JoinedRow = [
  ...[string, string, string, string, number, string, FileRecord["status"], string],
  ...[Date, Date | null, Date | null, FileRecord["purpose"], string | null, number | null, number | null],
  ...[string | null, FileRecord["processingStatus"], string | null],
  ...[FileRecord["scanStatus"], string | null, string | null, Date | null, Date | null],
  ...[string | null, number, number, string, number, string],
];

/** Rows of the join (ordered by file, then variant name) → records, each with its variants in that order. */
export function recordsFromJoinedRows(rows: readonly JoinedRow[]): FileRecord[] {
  const records: FileRecord[] = [];
  let current: FileRecord | undefined;
  for (const row of rows) {
    if (current?.id !== row[0]) {
      current = {
        id: row[0],
        ownerId: row[1],
        filename: row[2],
        contentType: row[3],
        sizeBytes: Number(row[4]),
        md5: row[5],
        status: row[6],
        objectKey: row[7],
        createdAt: row[8],
        uploadedAt: row[9],
        deletedAt: row[10],
        purpose: row[11],
        sha256: row[12],
        width: row[13],
        height: row[14],
        blurhash: row[15],
        processingStatus: row[16],
        processingError: row[17],
        scanStatus: row[18],
        scanSignature: row[19],
        scanError: row[20],
        scannedAt: row[21],
        uploadExpiresAt: row[22],
        variants: [],
      };
      records.push(current);
    }
    // A file without variants has one row, its variant columns NULL.
    if (row[23] !== null) {
      current.variants.push({
        name: row[23],
        width: row[24],
        height: row[25],
        contentType: row[26],
        sizeBytes: Number(row[27]),
        objectKey: row[28],
      });
    }
  }
  return records;
}

/**
 * The SQL of the hot paths, written from the drizzle schema's column names
 * and kept per number of rows or ids. One placeholder per id: execute() cannot
 * expand an array into IN (...).
 */
const statements = (() => {
  const quote = (name: string) => `\`${name}\``;
  const list = (n: number, item: string) => Array.from({ length: n }, () => item).join(", ");
  const cached = (make: (n: number) => string) => {
    const texts = new Map<number, string>();
    return (n: number) => {
      let text = texts.get(n);
      if (text === undefined) texts.set(n, (text = make(n)));
      return text;
    };
  };
  const pendingColumns = [
    files.id, files.ownerId, files.filename, files.contentType, files.sizeBytes, files.md5, files.status, files.objectKey, files.createdAt, files.purpose,
    files.uploadExpiresAt, files.expireDueAt, files.idempotencyKey, files.idempotencySeq, files.idempotencyFingerprint,
  ];
  const pendingRow = `(${list(pendingColumns.length, "?")})`;
  return {
    /** ownedAmong (file-conditions.ts), newest first, each file's variants by name (joinedColumns). */
    ownedAmongWithVariants: cached(
      (n) =>
        `SELECT ${joinedColumns.map((c) => `${c.table === files ? "f" : "v"}.${quote(c.name)}`).join(", ")} ` +
        "FROM `files` f LEFT JOIN `file_variants` v ON v.`file_id` = f.`id` " +
        `WHERE f.\`owner_id\` = ? AND f.\`id\` IN (${list(n, "?")}) ORDER BY f.\`id\` DESC, v.\`name\``,
    ),
    insertPending: cached(
      (n) => `INSERT INTO \`files\` (${pendingColumns.map((c) => quote(c.name)).join(", ")}) VALUES ${list(n, pendingRow)}`,
    ),
  };
})();

// MariaDB names the key 'files_owner_id_dedup_sha256_key', MySQL 8 'files.files_owner_id_dedup_sha256_key'.
const dedupKeyViolation = /Duplicate entry .* for key '(?:files\.)?files_owner_id_dedup_sha256_key'$/;

/** A duplicate-key error on the dedup key (not on the id, say), through drizzle's wrapping. */
export function isDedupConflict(error: unknown): boolean {
  const duplicate = findInCauseChain(error, ({ code }) => code === "ER_DUP_ENTRY");
  return typeof duplicate?.message === "string" && dedupKeyViolation.test(duplicate.message);
}

// Errors that say "the database cannot serve us right now", as opposed to "this
// statement is wrong" (duplicate key, syntax, data too long...), which are bugs.
const UNAVAILABLE_CODES = new Set([
  // Network: refused, unroutable, unresolvable, cut.
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE",
  "PROTOCOL_CONNECTION_LOST", "PROTOCOL_SEQUENCE_TIMEOUT",
  // The server refuses this client: credentials, database, capacity, shutdown.
  "ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR", "ER_CON_COUNT_ERROR",
  "ER_TOO_MANY_USER_CONNECTIONS", "ER_SERVER_SHUTDOWN", "ER_CONNECTION_KILLED",
  // Read-only during a failover (the codes mysql2's pool itself treats that way).
  "ER_OPTION_PREVENTS_STATEMENT", "ER_READ_ONLY_MODE", "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION",
  // Contention: retrying later can succeed.
  "ER_LOCK_WAIT_TIMEOUT", "ER_LOCK_DEADLOCK",
]);

/**
 * Maps a failure to DependencyUnavailableError("database") when it is about
 * reaching the database, and returns it unchanged otherwise. drizzle wraps driver
 * errors in DrizzleQueryError, so the cause chain is searched.
 */
export function toRepositoryError(error: unknown): unknown {
  // mysql2 flags errors that killed the connection as fatal.
  return classifyDatabaseError(error, ({ code, fatal }) => fatal === true || (typeof code === "string" && UNAVAILABLE_CODES.has(code)));
}
