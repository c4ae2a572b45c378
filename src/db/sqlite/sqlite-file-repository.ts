// FileRepository on an embedded SQLite/libSQL file through @libsql/client and
// drizzle: the zero-setup default when no DATABASE_URL is set.
//
// libsql's local driver is synchronous: every statement runs to completion on the
// calling thread, and a busy wait blocks the event loop. So no operation here
// holds a lock across an `await` (drizzle's interactive `transaction()` would:
// a second writer in this process would then busy-wait for a lock that only this
// same, blocked thread can release, and fail after the timeout). Writes from
// this process therefore never wait on each other; the busy timeout is for other
// processes (the sqlite3 shell, a backup) holding the file.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import { count, desc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { DependencyUnavailableError } from "../../errors.js";
import type { FileRecord, FileRepository, ListFilesQuery, NewFileRecord } from "../file-repository.js";
import { countsByStatus, listedBy, notDeletedAmong, ownedAmong, pendingAmong } from "../file-conditions.js";
import { files } from "./schema.js";

// Relative to this module, so the cwd of whoever opens the file does not matter.
const migrationsFolder = path.join(import.meta.dirname, "../../../migrations/sqlite");

export interface SqliteFileRepositoryOptions {
  /** How long a statement waits for another process's lock before failing; default 2000 ms. */
  busyTimeoutMs?: number;
}

/** Opens (creating it and its directory if needed) and migrates the database file. */
export async function createSqliteFileRepository(
  file: string,
  options: SqliteFileRepositoryOptions = {},
): Promise<FileRepository> {
  const absolute = path.resolve(file);
  const client = await run(async () => {
    await mkdir(path.dirname(absolute), { recursive: true });
    // pathToFileURL percent-encodes "#", "?" and spaces, which libsql decodes.
    // `timeout` is the busy timeout of every connection the client opens; a
    // PRAGMA would only reach the one connection that ran it.
    return createClient({ url: pathToFileURL(absolute).href, timeout: options.busyTimeoutMs ?? 2_000 });
  });
  const db = drizzle({ client });
  try {
    await run(async () => {
      // Persistent in the file: readers and the writer no longer block each other.
      await client.execute("PRAGMA journal_mode = WAL");
      await migrateOnce(db);
    });
  } catch (error) {
    client.close();
    throw error;
  }
  let closing: Promise<void> | undefined;

  return {
    insertPending: (records: readonly NewFileRecord[]) =>
      run(async () => {
        if (records.length === 0) return;
        const rows = records.map((record) => ({ ...record, status: "pending" as const }));
        // batch() runs BEGIN, the INSERT and COMMIT in one synchronous call:
        // all or nothing, without holding the write lock across an await.
        await db.batch([db.insert(files).values(rows)]);
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
        const result = await db
          .update(files)
          .set({ status: "uploaded", uploadedAt: at })
          .where(pendingAmong(files, ownerId, ids));
        return result.rowsAffected;
      }),

    markDeleted: (ownerId: string, ids: readonly string[], at: Date) =>
      run(async () => {
        if (ids.length === 0) return 0;
        const result = await db
          .update(files)
          .set({ status: "deleted", deletedAt: at })
          .where(notDeletedAmong(files, ownerId, ids));
        return result.rowsAffected;
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
        await client.execute("SELECT 1");
      }),

    // Operations after close fail with CLIENT_CLOSED, i.e. DependencyUnavailableError.
    close: () => (closing ??= Promise.resolve().then(() => client.close())),
  };
}

// drizzle's migrator reads the last applied migration before, not inside, the
// transaction that applies the rest, so two opens of a fresh file at once (two
// processes, say) can both try to apply one. The loser's transaction rolls back
// whole; a second run then sees the winner's record and has nothing to do.
async function migrateOnce(db: Parameters<typeof migrate>[0]): Promise<void> {
  try {
    await migrate(db, { migrationsFolder });
  } catch (error) {
    // Not worth a second busy wait when the file itself is the problem.
    if (toRepositoryError(error) instanceof DependencyUnavailableError) throw error;
    await migrate(db, { migrationsFolder });
  }
}

async function run<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toRepositoryError(error);
  }
}

// Base result codes (libsql's LibsqlError#code) that mean "the file cannot serve
// us right now", as opposed to "this statement is wrong" (constraint, syntax),
// which is a bug.
const UNAVAILABLE_CODES = new Set([
  "SQLITE_CANTOPEN", // missing or unreadable path, a directory, too many open files
  "SQLITE_NOTADB", // the path holds something else
  "SQLITE_PERM", "SQLITE_READONLY", // the OS or the file system refuses writes
  "SQLITE_IOERR", "SQLITE_FULL", // the disk failed or is full
  "SQLITE_BUSY", "SQLITE_LOCKED", // another process held a lock past the busy timeout
  "CLIENT_CLOSED", // used after close()
]);

/**
 * Maps a failure to DependencyUnavailableError("database") when it is about
 * reaching the database file, and returns it unchanged otherwise. drizzle wraps
 * driver errors in DrizzleQueryError, so the cause chain is searched.
 */
export function toRepositoryError(error: unknown): unknown {
  if (error instanceof DependencyUnavailableError) return error;
  for (let current: unknown = error, depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { code, syscall, message, cause } = current as Partial<Record<"code" | "syscall" | "message" | "cause", unknown>>;
    if (
      (typeof code === "string" && UNAVAILABLE_CODES.has(code)) ||
      // Node's system errors carry a syscall; here only creating the directory makes one.
      typeof syscall === "string" ||
      // libsql fails to open a connection (at createClient, or when its pool adds
      // one) with a bare Error, code "", e.g. 'ConnectionFailed("Unable to open
      // connection to local database /x: 14")'.
      (typeof message === "string" && message.startsWith("ConnectionFailed("))
    ) {
      return new DependencyUnavailableError("database", error);
    }
    current = cause;
  }
  return error;
}
