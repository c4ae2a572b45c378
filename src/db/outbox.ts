// The outbox in SQL, shared by both dialects: how a state change's tasks are
// made from the rows it changes (INSERT … SELECT, so they are exactly those
// rows, inside the change's transaction), and the conditions of the task queue.
// The dialects differ only in a few spellings (DialectSql) and in how they run
// a transaction (mysql-outbox.ts, sqlite-outbox.ts).
import { and, asc, eq, inArray, lt, lte, ne, or, sql, type AnyColumn, type SQL } from "drizzle-orm";
import { count, min } from "drizzle-orm";
import type { EventType, NewTask, Task, TaskKind, TaskStats, TaskStatus } from "../domain/task.js";
import type { TaskQueue } from "../domain/task-queue.js";
import type { FileColumns } from "./file-conditions.js";

export interface TaskColumns {
  id: AnyColumn;
  kind: AnyColumn;
  fileId: AnyColumn;
  ownerId: AnyColumn;
  payload: AnyColumn;
  orderKey: AnyColumn;
  status: AnyColumn;
  dueAt: AnyColumn;
  attempts: AnyColumn;
  lockedBy: AnyColumn;
  lockedUntil: AnyColumn;
  lastError: AnyColumn;
  createdAt: AnyColumn;
}

/** What a state change queues for each row it changes. */
export type TaskTemplate = { kind: "purge" } | { kind: "quarantine" } | { kind: "publish"; type: EventType };

/** A state change: the rows matching `where` get `values`, and each queues `templates`' tasks, in one transaction. */
export interface FileChange {
  where: SQL | undefined;
  values: Record<string, unknown>;
  templates: readonly TaskTemplate[];
  at: Date;
  /** At most this many rows, in this order (a sweep shared by several instances; MySQL skips rows another holds). */
  limit?: { count: number; orderBy: SQL[] };
}

/** The spellings that differ between MySQL and SQLite. */
export interface DialectSql {
  /** A timestamp parameter as the dialect's column stores it. */
  time(at: Date): unknown;
  /** 32 random hex digits, new per row. */
  randomHex: SQL;
  jsonObject(pairs: Array<[string, SQL]>): SQL;
  concat(parts: SQL[]): SQL;
}

/** The SELECT list (keyed by task column) that makes `template`'s task from a files row. */
export function taskFromFileRow(f: FileColumns, template: TaskTemplate, at: Date, d: DialectSql) {
  const value = (v: unknown, column: string) => sql`${v}`.as(column);
  const publish = template.kind === "publish";
  // Every column, in the table's order (drizzle's INSERT … SELECT requires it); NULL id: the next one.
  return {
    id: sql`NULL`.as("id"),
    kind: value(template.kind, "kind"),
    fileId: sql`${f.id}`.as("file_id"),
    ownerId: sql`${f.ownerId}`.as("owner_id"),
    payload: publish
      ? d.jsonObject([["eventId", d.randomHex], ["type", sql`${template.type}`], ["occurredAt", sql`${at.getTime()}`]]).as("payload")
      : sql`NULL`.as("payload"),
    orderKey: publish ? d.concat([sql`${"publish:"}`, sql`${f.id}`]).as("order_key") : sql`NULL`.as("order_key"),
    status: value("queued", "status"),
    dueAt: value(d.time(at), "due_at"),
    attempts: value(0, "attempts"),
    lockedBy: sql`NULL`.as("locked_by"),
    lockedUntil: sql`NULL`.as("locked_until"),
    lastError: sql`NULL`.as("last_error"),
    createdAt: value(d.time(at), "created_at"),
  };
}

/** A NewTask as the SELECT list of an INSERT … SELECT (all columns, in order). */
export function taskValues(task: NewTask, now: Date, d: DialectSql) {
  const value = (v: unknown, column: string) => sql`${v}`.as(column);
  return {
    id: sql`NULL`.as("id"),
    kind: value(task.kind, "kind"),
    fileId: value(task.fileId, "file_id"),
    ownerId: value(task.ownerId, "owner_id"),
    payload: value(task.payload, "payload"),
    orderKey: value(task.orderKey, "order_key"),
    status: value("queued", "status"),
    dueAt: value(d.time(task.dueAt), "due_at"),
    attempts: value(0, "attempts"),
    lockedBy: sql`NULL`.as("locked_by"),
    lockedUntil: sql`NULL`.as("locked_until"),
    lastError: sql`NULL`.as("last_error"),
    createdAt: value(d.time(now), "created_at"),
  };
}

/** A NewTask as a row of tasks. */
export function taskRow(task: NewTask, now: Date) {
  return { ...task, status: "queued" as const, attempts: 0, createdAt: now };
}

/** No earlier task with the same order key is still waiting or running. */
function firstOfItsKey(t: TaskColumns, earlier: TaskColumns): SQL | undefined {
  return or(
    sql`${t.orderKey} IS NULL`,
    sql`NOT EXISTS (SELECT 1 FROM ${sql.identifier("tasks")} ${sql.identifier("earlier")} WHERE ${earlier.orderKey} = ${t.orderKey} AND ${earlier.id} < ${t.id} AND ${ne(earlier.status, "failed")})`,
  );
}

/** Queued and due (order by due_at, id: the (status, due_at) index's own order). */
export function queuedDue(t: TaskColumns, earlier: TaskColumns, kinds: readonly TaskKind[], now: Date): SQL | undefined {
  return and(eq(t.status, "queued"), lte(t.dueAt, now), inArray(t.kind, [...kinds]), firstOfItsKey(t, earlier));
}

/** Running under a lease that ran out (rare: a crashed or stuck worker). */
export function leaseLapsed(t: TaskColumns, earlier: TaskColumns, kinds: readonly TaskKind[], now: Date): SQL | undefined {
  return and(eq(t.status, "running"), lt(t.lockedUntil, now), inArray(t.kind, [...kinds]), firstOfItsKey(t, earlier));
}

/**
 * Either (SQLite, the fake): tasks claimTasks may take. MySQL reads the two
 * branches apart, each in its index order and cut at the limit: with their OR
 * it would read and lock every claimable row before sorting (see pendingDue
 * in file-conditions.ts), and concurrent claimers would find nothing to take.
 */
export function claimable(t: TaskColumns, earlier: TaskColumns, kinds: readonly TaskKind[], now: Date): SQL | undefined {
  return or(queuedDue(t, earlier, kinds, now), leaseLapsed(t, earlier, kinds, now));
}

export const claimOrder = (t: TaskColumns) => [asc(t.dueAt), asc(t.id)];

export function claimedTaskValues(t: TaskColumns, workerId: string, leaseMs: number, now: Date) {
  return { status: "running" as const, attempts: sql`${t.attempts} + 1`, lockedBy: workerId, lockedUntil: new Date(now.getTime() + leaseMs) };
}

/** The task while `workerId` holds it. */
export function taskHeldBy(t: TaskColumns, id: number, workerId: string): SQL | undefined {
  return and(eq(t.id, id), eq(t.status, "running"), eq(t.lockedBy, workerId));
}

const MAX_ERROR = 1000;

export function failedTaskValues(error: string, retryAt: Date | null) {
  const points = [...error];
  return {
    status: (retryAt ? "queued" : "failed") as TaskStatus,
    dueAt: retryAt ?? undefined,
    lockedBy: null,
    lockedUntil: null,
    lastError: points.length > MAX_ERROR ? points.slice(0, MAX_ERROR).join("") : error,
  };
}

export function requeuedValues(now: Date) {
  return { status: "queued" as const, dueAt: now, attempts: 0, lockedBy: null, lockedUntil: null };
}

/** GROUP BY rows and two MIN()s → TaskStats. */
export function toTaskStats(
  counts: Array<{ kind: string; status: TaskStatus; count: number }>,
  oldestDue: Date | number | null | undefined,
  oldestEvent: Date | number | null | undefined,
  now: Date,
): TaskStats {
  const age = (at: Date | number | null | undefined) => (at == null ? 0 : Math.max(0, now.getTime() - new Date(at).getTime()));
  return { counts: counts.map((c) => ({ ...c, count: Number(c.count) })), oldestDueMs: age(oldestDue), oldestEventMs: age(oldestEvent) };
}

/** A row of tasks → Task. */
export function toTask(row: Record<string, unknown>): Task {
  return {
    id: Number(row.id),
    kind: row.kind as TaskKind,
    fileId: (row.fileId as string | null) ?? null,
    ownerId: (row.ownerId as string | null) ?? null,
    payload: (row.payload as string | null) ?? null,
    orderKey: (row.orderKey as string | null) ?? null,
    dueAt: row.dueAt as Date,
    status: row.status as TaskStatus,
    attempts: Number(row.attempts),
    lastError: (row.lastError as string | null) ?? null,
    createdAt: row.createdAt as Date,
  };
}

// Events not yet delivered to every sink: what the outbox lag measures.
const EVENT_KINDS: TaskKind[] = ["publish", "deliver"];

/**
 * drizzle's builders as both dialects have them: the chains are the same,
 * their types are not, so they are typed loosely here; the repository contract
 * suite checks each dialect's use.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Builders = { select: (...args: any[]) => any; insert: (...args: any[]) => any; update: (...args: any[]) => any };

/**
 * The task queue's statements that read the same on either dialect; `changed`
 * reads an UPDATE's row count from the dialect's result. Claims and completions
 * are each dialect's own (mysql-outbox.ts, sqlite-outbox.ts).
 */
export function commonTaskMethods(
  db: Builders,
  tasks: TaskColumns & object,
  run: <T>(operation: () => Promise<T>) => Promise<T>,
  changed: (result: unknown) => number,
): Pick<TaskQueue, "failTask" | "enqueueTasks" | "listTasks" | "requeueTasks" | "taskStats"> {
  return {
    failTask: (id, workerId, error, retryAt) =>
      run(async () => changed(await db.update(tasks).set(failedTaskValues(error, retryAt)).where(taskHeldBy(tasks, id, workerId))) > 0),

    enqueueTasks: (list) =>
      run(async () => {
        if (list.length > 0) await db.insert(tasks).values(list.map((t) => taskRow(t, new Date())));
      }),

    listTasks: ({ status, limit }) =>
      run(async () => ((await db.select().from(tasks).where(eq(tasks.status, status)).orderBy(asc(tasks.id)).limit(limit)) as Array<Record<string, unknown>>).map(toTask)),

    requeueTasks: (ids, now) =>
      run(async () =>
        ids.length === 0 ? 0 : changed(await db.update(tasks).set(requeuedValues(now)).where(and(inArray(tasks.id, [...ids]), eq(tasks.status, "failed")))),
      ),

    taskStats: (now) =>
      run(async () => {
        const counts = await db.select({ kind: tasks.kind, status: tasks.status, count: count() }).from(tasks).groupBy(tasks.kind, tasks.status);
        const [due] = await db.select({ at: min(tasks.dueAt) }).from(tasks).where(and(eq(tasks.status, "queued"), lte(tasks.dueAt, now)));
        const [event] = await db.select({ at: min(tasks.createdAt) }).from(tasks).where(and(inArray(tasks.kind, EVENT_KINDS), eq(tasks.status, "queued")));
        return toTaskStats(counts, due?.at, event?.at, now);
      }),
  };
}
