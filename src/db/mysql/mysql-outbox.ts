// The outbox on MySQL/MariaDB: state changes with their tasks in one
// transaction, and the task queue (claims with SELECT … FOR UPDATE SKIP LOCKED,
// as claimProcessing does). Rules and SQL pieces are shared (../outbox.ts).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/mysql-core";
import type { MySql2Database } from "drizzle-orm/mysql2";
import type { TaskQueue } from "../../domain/task-queue.js";
import {
  claimedTaskValues,
  claimOrder,
  commonTaskMethods,
  type DialectSql,
  type FileChange,
  leaseLapsed,
  queuedDue,
  taskFromFileRow,
  taskHeldBy,
  taskRow,
  type TaskTemplate,
  toTask,
} from "../outbox.js";
import { files, tasks } from "./schema.js";

const earlier = alias(tasks, "earlier");

export const mysqlSql: DialectSql = {
  time: (at) => at,
  randomHex: sql`LOWER(HEX(RANDOM_BYTES(16)))`,
  jsonObject: (pairs) => sql`JSON_OBJECT(${sql.join(pairs.map(([k, v]) => sql`${k}, ${v}`), sql`, `)})`,
  concat: (parts) => sql`CONCAT(${sql.join(parts, sql`, `)})`,
};

type Db = MySql2Database;


/**
 * Applies a change to the rows matching `where` and queues their tasks, in one
 * transaction; returns the changed rows' ids. The rows are locked first, so a
 * concurrent change of the same rows waits and then finds nothing to change:
 * each change's tasks are queued once.
 */
export async function changeFiles(db: Db, change: FileChange): Promise<string[]> {
  return db.transaction(
    async (tx) => {
      let query = tx.select({ id: files.id }).from(files).where(change.where).$dynamic();
      if (change.limit) query = query.orderBy(...change.limit.orderBy).limit(change.limit.count);
      const rows = await (change.limit ? query.for("update", { skipLocked: true }) : query.for("update"));
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.id);
      for (const template of change.templates) {
        await tx.insert(tasks).select(tx.select(taskFromFileRow(files, template, change.at, mysqlSql)).from(files).where(inArray(files.id, ids)));
      }
      await tx.update(files).set(change.values).where(inArray(files.id, ids));
      return ids;
    },
    { isolationLevel: "read committed" },
  );
}

/** Queues `templates` for one row inside an open transaction (a change that already holds the row). */
export async function queueFor(tx: Pick<Db, "insert" | "select">, fileId: string, templates: readonly TaskTemplate[], at: Date): Promise<void> {
  for (const template of templates) {
    await tx.insert(tasks).select(tx.select(taskFromFileRow(files, template, at, mysqlSql)).from(files).where(eq(files.id, fileId)));
  }
}

export function mysqlTaskQueue(db: Db, run: <T>(operation: () => Promise<T>) => Promise<T>): TaskQueue {
  return {
    claimTasks: ({ workerId, leaseMs, limit, now, kinds }) =>
      run(async () => {
        if (limit < 1 || kinds.length === 0) return [];
        return db.transaction(
          async (tx) => {
            const due = await tx
              .select({ id: tasks.id })
              .from(tasks)
              .where(queuedDue(tasks, earlier, kinds, now))
              .orderBy(...claimOrder(tasks))
              .limit(limit)
              .for("update", { skipLocked: true });
            if (due.length < limit) {
              due.push(
                ...(await tx
                  .select({ id: tasks.id })
                  .from(tasks)
                  .where(leaseLapsed(tasks, earlier, kinds, now))
                  .orderBy(asc(tasks.lockedUntil))
                  .limit(limit - due.length)
                  .for("update", { skipLocked: true })),
              );
            }
            if (due.length === 0) return [];
            const ids = due.map((r) => r.id);
            await tx.update(tasks).set(claimedTaskValues(tasks, workerId, leaseMs, now)).where(inArray(tasks.id, ids));
            const rows = await tx.select().from(tasks).where(inArray(tasks.id, ids)).orderBy(asc(tasks.id));
            return rows.map(toTask);
          },
          { isolationLevel: "read committed" },
        );
      }),

    // READ COMMITTED, as every transaction on tasks: under REPEATABLE READ the
    // DELETE's gap locks deadlock with concurrent inserts of other changes' tasks.
    completeTask: (id, workerId, followUps = []) =>
      run(async () =>
        db.transaction(
          async (tx) => {
            const [deleted] = await tx.delete(tasks).where(taskHeldBy(tasks, id, workerId));
            if (deleted.affectedRows === 0) return false;
            const now = new Date();
            if (followUps.length > 0) await tx.insert(tasks).values(followUps.map((t) => taskRow(t, now)));
            return true;
          },
          { isolationLevel: "read committed" },
        ),
      ),

    ...commonTaskMethods(db, tasks, run, (r) => (r as [{ affectedRows: number }])[0].affectedRows),
  };
}
