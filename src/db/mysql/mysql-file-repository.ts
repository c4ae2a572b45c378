// FileRepository on MySQL 8 / MariaDB 10.11 through a mysql2 pool and drizzle.
import { count, desc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/mysql2";
import mysql from "mysql2/promise";
import { DependencyUnavailableError } from "../../errors.js";
import type { FileRecord, FileRepository, ListFilesQuery, NewFileRecord } from "../file-repository.js";
import { countsByStatus, listedBy, notDeletedAmong, ownedAmong, pendingAmong } from "../file-conditions.js";
import { files } from "./schema.js";

export interface MysqlFileRepositoryOptions {
  /** Pool size; default 16. */
  connectionLimit?: number;
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
    // drizzle's datetime columns convert to UTC themselves; this only covers a raw
    // Date parameter, which mysql2 would otherwise format in the process's time zone.
    timezone: "Z",
  });
  const db = drizzle({ client: pool });
  let closing: Promise<void> | undefined;

  // Every operation goes through here so that callers see DependencyUnavailableError
  // for an unreachable database and the original error for anything else.
  async function run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toRepositoryError(error);
    }
  }

  return {
    insertPending: (records: readonly NewFileRecord[]) =>
      run(async () => {
        if (records.length === 0) return;
        const rows = records.map((record) => ({ ...record, status: "pending" as const }));
        // One multi-row INSERT; the transaction makes "all or nothing" explicit
        // rather than relying on single-statement atomicity.
        await db.transaction(async (tx) => {
          await tx.insert(files).values(rows);
        });
      }),

    findByIds: (ownerId: string, ids: readonly string[]) =>
      run(async (): Promise<FileRecord[]> => {
        if (ids.length === 0) return [];
        return db
          .select()
          .from(files)
          .where(ownedAmong(files, ownerId, ids));
      }),

    markUploaded: (ownerId: string, ids: readonly string[], at: Date) =>
      run(async () => {
        if (ids.length === 0) return 0;
        const [result] = await db
          .update(files)
          .set({ status: "uploaded", uploadedAt: at })
          .where(pendingAmong(files, ownerId, ids));
        // mysql2 counts matched rows (CLIENT_FOUND_ROWS); the status condition
        // makes every matched row a changed one.
        return result.affectedRows;
      }),

    markDeleted: (ownerId: string, ids: readonly string[], at: Date) =>
      run(async () => {
        if (ids.length === 0) return 0;
        const [result] = await db
          .update(files)
          .set({ status: "deleted", deletedAt: at })
          .where(notDeletedAmong(files, ownerId, ids));
        return result.affectedRows;
      }),

    list: (query: ListFilesQuery) =>
      run(async (): Promise<FileRecord[]> => {
        if (query.statuses.length === 0 || query.limit < 1) return [];
        return db.select().from(files).where(listedBy(files, query)).orderBy(desc(files.id)).limit(query.limit);
      }),

    countByStatus: () =>
      run(async () => {
        const rows = await db.select({ status: files.status, count: count() }).from(files).groupBy(files.status);
        return countsByStatus(rows);
      }),

    ping: () =>
      run(async () => {
        await pool.query("SELECT 1");
      }),

    close: () => (closing ??= pool.end()),
  };
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
  if (error instanceof DependencyUnavailableError) return error;
  for (let current: unknown = error, depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { code, fatal, cause } = current as { code?: unknown; fatal?: unknown; cause?: unknown };
    // mysql2 flags errors that killed the connection as fatal.
    if (fatal === true || (typeof code === "string" && UNAVAILABLE_CODES.has(code))) {
      return new DependencyUnavailableError("database", error);
    }
    current = cause;
  }
  return error;
}
