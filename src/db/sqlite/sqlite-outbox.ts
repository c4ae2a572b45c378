// The outbox on SQLite/libSQL: state changes with their tasks in one batch (one
// write transaction, no await inside it, as the rest of this repository), and
// the task queue (a claim is one UPDATE … RETURNING). Rules and SQL pieces are
// shared (../outbox.ts).
import { and, inArray, sql, type SQL } from "drizzle-orm";
import type { Client, InArgs, ResultSet } from "@libsql/client";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import { alias } from "drizzle-orm/sqlite-core";
import type { TaskQueue } from "../../domain/task-queue.js";
import {
  claimable,
  claimedTaskValues,
  claimOrder,
  commonTaskMethods,
  type DialectSql,
  type FileChange,
  taskFromFileRow,
  taskHeldBy,
  type TaskTemplate,
  taskValues,
  toTask,
} from "../outbox.js";
import { files, tasks } from "./schema.js";

const earlier = alias(tasks, "earlier");

export const sqliteSql: DialectSql = {
  time: (at) => at.getTime(),
  randomHex: sql`lower(hex(randomblob(16)))`,
  jsonObject: (pairs) => sql`json_object(${sql.join(pairs.map(([k, v]) => sql`${k}, ${v}`), sql`, `)})`,
  concat: (parts) => sql.join(parts, sql` || `),
};

type Db = LibSQLDatabase;


/**
 * The statements of a change: its tasks made from the rows about to change
 * (INSERT … SELECT with the change's own condition), then the UPDATE, which
 * returns their ids. SQLite runs one writer at a time, so within the batch the
 * condition matches the same rows in every statement.
 */
export function changeStatements(db: Db, change: FileChange) {
  const where = change.limit
    ? inArray(files.id, db.select({ id: files.id }).from(files).where(change.where).orderBy(...change.limit.orderBy).limit(change.limit.count))
    : change.where;
  const inserts = change.templates.map((template) =>
    db.insert(tasks).select(db.select(taskFromFileRow(files, template, change.at, sqliteSql)).from(files).where(where)),
  );
  const update = db.update(files).set(change.values).where(where).returning({ id: files.id });
  return { inserts, update };
}

export async function changeFiles(db: Db, writer: BatchWriter, change: FileChange): Promise<string[]> {
  const { inserts, update } = changeStatements(db, change);
  const results = await writer.batch([...inserts, update]);
  return results.at(-1)!.rows.map((r) => String(r.id));
}

/** Runs write transactions (see writeBatch); replaces its connections after a busy failure. */
export interface BatchWriter {
  batch(queries: ReadonlyArray<{ toSQL(): { sql: string; params: unknown[] } }>): Promise<ResultSet[]>;
  close(): void;
}

/**
 * Each batch is one write transaction that takes the write lock first (BEGIN
 * IMMEDIATE). A statement that failed with SQLITE_BUSY stays active on its
 * pooled libsql connection (libsql does not reset it), and every later COMMIT
 * there fails with "SQL statements in progress": so after such a failure the
 * writer's client is closed (finalizing it) and a new one opened. The
 * repository's other client serves reads and single statements.
 */
export function batchWriter(open: () => Client): BatchWriter {
  let client = open();
  return {
    async batch(queries) {
      const statements = queries.map((q) => {
        const { sql: text, params } = q.toSQL();
        return { sql: text, args: params as InArgs };
      });
      try {
        return await client.batch(statements, "write");
      } catch (error) {
        if ((error as { code?: string }).code === "SQLITE_BUSY") {
          const poisoned = client;
          client = open();
          poisoned.close();
        }
        throw error;
      }
    },
    close: () => client.close(),
  };
}

/** The INSERTs that queue `templates` for one row, for a batch whose last statement makes the change. */
export function queueForStatements(db: Db, where: SQL | undefined, templates: readonly TaskTemplate[], at: Date) {
  return templates.map((template) => db.insert(tasks).select(db.select(taskFromFileRow(files, template, at, sqliteSql)).from(files).where(where)));
}

export function sqliteTaskQueue(db: Db, writer: BatchWriter, run: <T>(operation: () => Promise<T>) => Promise<T>): TaskQueue {
  return {
    claimTasks: ({ workerId, leaseMs, limit, now, kinds }) =>
      run(async () => {
        if (limit < 1 || kinds.length === 0) return [];
        const due = db
          .select({ id: tasks.id })
          .from(tasks)
          .where(claimable(tasks, earlier, kinds, now))
          .orderBy(...claimOrder(tasks))
          .limit(limit);
        const rows = await db.update(tasks).set(claimedTaskValues(tasks, workerId, leaseMs, now)).where(inArray(tasks.id, due)).returning();
        return rows.map(toTask).sort((a, b) => a.id - b.id);
      }),

    completeTask: (id, workerId, followUps = []) =>
      run(async () => {
        const held = taskHeldBy(tasks, id, workerId);
        const now = new Date();
        // Follow-ups only if the task is still held: the same batch checks it first.
        const stillHeld = sql`EXISTS (SELECT 1 FROM ${tasks} WHERE ${held})`;
        const inserts = followUps.map((t) =>
          db.insert(tasks).select(db.select(taskValues(t, now, sqliteSql)).from(sql`(SELECT 1)`).where(stillHeld)),
        );
        const del = db.delete(tasks).where(held);
        const results = await writer.batch([...inserts, del]);
        return results.at(-1)!.rowsAffected > 0;
      }),

    ...commonTaskMethods(db, tasks, run, (r) => (r as { rowsAffected: number }).rowsAffected),
  };
}
