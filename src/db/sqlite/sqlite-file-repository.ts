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
import { and, asc, eq, exists, inArray, ne, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { alias } from "drizzle-orm/sqlite-core";
import { DependencyUnavailableError, IdempotencyConflictError } from "../../domain/errors.js";
import { idempotencyColumns } from "../shared-methods.js";
import { classifyDatabaseError, findInCauseChain, runClassified } from "../driver-errors.js";
import type { FileRecord, NewFileRecord, ProcessingJob, ProcessingResult } from "../../domain/file.js";
import type { FileRepository } from "../../domain/file-repository.js";
import {
  claimedValues,
  claimHeldBy,
  completedValues,
  leaseExpired,
  ownedAmong,
  pendingDue,
  variantRows,
} from "../file-conditions.js";
import { fileRecordColumns, files, fileVariants, processingJobColumns } from "./schema.js";
import { commonStatements, recordReads, sharedMethods } from "../shared-methods.js";
import { batchWriter, changeFiles, queueForStatements, sqliteTaskQueue } from "./sqlite-outbox.js";
import { migrationsFolder } from "../migrations-folder.js";

// Relative to this module, so the cwd of whoever opens the file does not matter.
const migrations = migrationsFolder("sqlite");

// Another row of files, for subqueries about the owner's other files.
const otherFiles = alias(files, "other_files");

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
  const writer = batchWriter(() => createClient({ url: pathToFileURL(absolute).href, timeout: options.busyTimeoutMs ?? 2_000 }));
  const db = drizzle({ client });
  try {
    await run(async () => {
      // Persistent in the file: readers and the writer no longer block each other.
      await client.execute("PRAGMA journal_mode = WAL");
      await migrateOnce(db);
    });
  } catch (error) {
    client.close();
    writer.close();
    throw error;
  }
  let closing: Promise<void> | undefined;

  const shared = sharedMethods(
    {
      ...recordReads(db, { files, fileVariants, columns: fileRecordColumns }),
      updateFiles: async (values, where) => (await db.update(files).set(values).where(where)).rowsAffected,
      // Only the dedup key's conflict is ignored; a duplicate id still fails.
      insertUploadedRow: async (row, templates, at) => {
        // The tasks are made from the row only if it was inserted (same batch, same transaction).
        const insert = db.insert(files).values(row as typeof files.$inferInsert).onConflictDoNothing({ target: [files.ownerId, files.dedupSha256] });
        const queued = queueForStatements(db, and(eq(files.id, row.id as string), eq(files.ownerId, row.ownerId as string)), templates, at);
        const [inserted] = await writer.batch([insert, ...queued]);
        return inserted!.rowsAffected === 1;
      },
      changeFiles: (change) => changeFiles(db, writer, change),
      isDedupConflict: (error) =>
        findInCauseChain(error, (e) => typeof e.message === "string" && e.message.includes("UNIQUE constraint failed: files.owner_id, files.dedup_sha256")) !== undefined,
      ...commonStatements(db, files, files),
    },
    files,
    run,
  );
  const { readRecords } = shared;

  return {
    ...shared,
    ...sqliteTaskQueue(db, writer, run),

    insertPending: (records: readonly NewFileRecord[]) =>
      run(async () => {
        if (records.length === 0) return;
        const rows = records.map(({ idempotency, ...record }) => ({ ...record, status: "pending" as const, ...idempotencyColumns(idempotency) }));
        // One write transaction: all or nothing, without holding the write lock across an await.
        try {
          await writer.batch([db.insert(files).values(rows)]);
        } catch (error) {
          if (findInCauseChain(error, (e) => typeof e.message === "string" && e.message.includes("files.idempotency_key"))) {
            throw new IdempotencyConflictError("another call with this idempotency key inserted first", { cause: error });
          }
          throw error;
        }
      }),

    findByIds: (ownerId: string, ids: readonly string[]) =>
      run(async (): Promise<FileRecord[]> => {
        if (ids.length === 0) return [];
        return readRecords(ownedAmong(files, ownerId, ids));
      }),

    claimProcessing: ({ workerId, leaseMs, limit, now }) =>
      run(async (): Promise<ProcessingJob[]> => {
        if (limit < 1) return [];
        // One statement, so one write transaction: SQLite runs writers one at a
        // time, and no other claimer sees these rows as due once it commits. Each
        // branch reads in its index order and stops at the limit (see pendingDue).
        const pending = db
          .select({ id: files.id })
          .from(files)
          .where(pendingDue(files, now))
          .orderBy(asc(files.processingDueAt))
          .limit(limit)
          .as("pending_due");
        const expired = db
          .select({ id: files.id })
          .from(files)
          .where(leaseExpired(files, now))
          .orderBy(asc(files.processingLockedUntil))
          .limit(limit)
          .as("lease_expired");
        const due = db
          .select({ id: pending.id })
          .from(pending)
          .unionAll(db.select({ id: expired.id }).from(expired))
          .limit(limit);
        return db
          .update(files)
          .set(claimedValues(files, { workerId, leaseMs }, now))
          .where(inArray(files.id, due))
          .returning(processingJobColumns);
      }),

    // The completion time (the interface's 4th argument) is not stored.
    completeProcessing: (fileId: string, workerId: string, result: ProcessingResult) =>
      run(async () => {
        // One batch, one transaction, no branching between its statements: each
        // checks the claim itself, and the files UPDATE (which ends the claim) comes last.
        const held = claimHeldBy(files, fileId, workerId);
        const stillHeld = exists(db.select({ held: sql`1` }).from(files).where(held));
        const deleteVariants = db.delete(fileVariants).where(and(eq(fileVariants.fileId, fileId), stillHeld));
        const insertVariants = variantRows(fileId, result.variants).map((row) =>
          db.insert(fileVariants).select(
            db
              .select({
                fileId: sql`${row.fileId}`.as("file_id"),
                name: sql`${row.name}`.as("name"),
                width: sql`${row.width}`.as("width"),
                height: sql`${row.height}`.as("height"),
                contentType: sql`${row.contentType}`.as("content_type"),
                sizeBytes: sql`${row.sizeBytes}`.as("size_bytes"),
                objectKey: sql`${row.objectKey}`.as("object_key"),
              })
              .from(files)
              .where(held),
          ),
        );
        // The dedup key, unless another live file of the owner holds this hash.
        const hashTaken = exists(
          db
            .select({ taken: sql`1` })
            .from(otherFiles)
            .where(
              and(
                eq(otherFiles.ownerId, files.ownerId),
                eq(otherFiles.dedupSha256, result.sha256),
                ne(otherFiles.id, files.id),
              ),
            ),
        );
        const complete = db
          .update(files)
          .set({
            ...completedValues(result),
            dedupSha256: sql`CASE WHEN ${hashTaken} THEN NULL ELSE ${result.sha256} END`,
          })
          .where(held);
        const published = queueForStatements(db, held, [{ kind: "publish", type: "processed" }], new Date());
        const results = await writer.batch([deleteVariants, ...insertVariants, ...published, complete]);
        return results.at(-1)?.rowsAffected === 1;
      }),

    ping: () =>
      run(async () => {
        await client.execute("SELECT 1");
      }),

    // Operations after close fail with CLIENT_CLOSED, i.e. DependencyUnavailableError.
    close: () =>
      (closing ??= Promise.resolve().then(() => {
        client.close();
        writer.close();
      })),
  };
}

// drizzle's migrator reads the last applied migration before, not inside, the
// transaction that applies the rest, so two opens of a fresh file at once (two
// processes, say) can both try to apply one. The loser's transaction rolls back
// whole; a second run then sees the winner's record and has nothing to do.
async function migrateOnce(db: Parameters<typeof migrate>[0]): Promise<void> {
  try {
    await migrate(db, { migrationsFolder: migrations });
  } catch (error) {
    // Not worth a second busy wait when the file itself is the problem.
    if (toRepositoryError(error) instanceof DependencyUnavailableError) throw error;
    await migrate(db, { migrationsFolder: migrations });
  }
}

const run = <T>(operation: () => Promise<T>): Promise<T> => runClassified(operation, toRepositoryError);

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
  return classifyDatabaseError(
    error,
    ({ code, syscall, message }) =>
      (typeof code === "string" && UNAVAILABLE_CODES.has(code)) ||
      // Node's system errors carry a syscall; here only creating the directory makes one.
      typeof syscall === "string" ||
      // libsql fails to open a connection (at createClient, or when its pool adds
      // one) with a bare Error, code "", e.g. 'ConnectionFailed("Unable to open
      // connection to local database /x: 14")'.
      (typeof message === "string" && message.startsWith("ConnectionFailed(")),
  );
}
