// The outbox in memory, for the fake repository: the TaskQueue contract's
// semantics (exclusive claims, leases, order keys, failed tasks kept) over an
// array, and the tasks a state change queues for a changed record.
import { randomBytes } from "node:crypto";
import type { TaskQueue } from "../../src/domain/task-queue.js";
import type { EventType, NewTask, Task } from "../../src/domain/task.js";
import type { FileRecord } from "../../src/domain/file.js";

export interface FakeTasks {
  rows: Task[];
  nextId: number;
  /** Who holds a running task until when (the SQL tables' locked_by/locked_until). */
  locks: Map<number, { by: string; until: Date }>;
}

export const createFakeTasks = (): FakeTasks => ({ rows: [], nextId: 1, locks: new Map() });

type Template = { kind: "purge" } | { kind: "quarantine" } | { kind: "publish"; type: EventType };

/** What a state change of `record` queues, as the SQL repositories' INSERT … SELECT makes it. */
export function queueFor(tasks: FakeTasks, record: FileRecord, templates: readonly Template[], at: Date): void {
  for (const t of templates) {
    const publish = t.kind === "publish";
    push(tasks, {
      kind: t.kind,
      fileId: record.id,
      ownerId: record.ownerId,
      payload: publish ? JSON.stringify({ eventId: randomBytes(16).toString("hex"), type: t.type, occurredAt: at.getTime() }) : null,
      orderKey: publish ? `publish:${record.id}` : null,
      dueAt: at,
    }, at);
  }
}

function push(tasks: FakeTasks, task: NewTask, now: Date): void {
  tasks.rows.push({ ...structuredClone(task), id: tasks.nextId++, status: "queued", attempts: 0, lastError: null, createdAt: now });
}

const MAX_ERROR = 1000;

export function fakeTaskQueue(tasks: FakeTasks, call: <T>(name: keyof TaskQueue, op: () => T) => Promise<T>): TaskQueue {
  const { locks } = tasks;
  const held = (id: number, workerId: string) => {
    const task = tasks.rows.find((t) => t.id === id);
    return task !== undefined && task.status === "running" && locks.get(id)?.by === workerId ? task : undefined;
  };
  const copy = (t: Task) => structuredClone(t);
  return {
    claimTasks: ({ workerId, leaseMs, limit, now, kinds }) =>
      call("claimTasks", () => {
        if (limit < 1) return [];
        const blocked = (t: Task) =>
          t.orderKey !== null && tasks.rows.some((e) => e.orderKey === t.orderKey && e.id < t.id && e.status !== "failed");
        const due = tasks.rows
          .filter((t) => kinds.includes(t.kind))
          .filter((t) => (t.status === "queued" && t.dueAt <= now) || (t.status === "running" && locks.get(t.id)!.until < now))
          .filter((t) => !blocked(t))
          .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.id - b.id)
          .slice(0, limit);
        for (const t of due) {
          t.status = "running";
          t.attempts++;
          locks.set(t.id, { by: workerId, until: new Date(now.getTime() + leaseMs) });
        }
        return due.map(copy).sort((a, b) => a.id - b.id);
      }),
    completeTask: (id, workerId, followUps = []) =>
      call("completeTask", () => {
        if (!held(id, workerId)) return false;
        tasks.rows = tasks.rows.filter((t) => t.id !== id);
        locks.delete(id);
        const now = new Date();
        for (const f of followUps) push(tasks, f, now);
        return true;
      }),
    failTask: (id, workerId, error, retryAt) =>
      call("failTask", () => {
        const task = held(id, workerId);
        if (!task) return false;
        const points = [...error];
        Object.assign(task, {
          status: retryAt ? "queued" : "failed",
          dueAt: retryAt ?? task.dueAt,
          lastError: points.length > MAX_ERROR ? points.slice(0, MAX_ERROR).join("") : error,
        });
        locks.delete(id);
        return true;
      }),
    enqueueTasks: (list) =>
      call("enqueueTasks", () => {
        const now = new Date();
        for (const t of list) push(tasks, t, now);
      }),
    listTasks: ({ status, limit }) => call("listTasks", () => tasks.rows.filter((t) => t.status === status).slice(0, limit).map(copy)),
    requeueTasks: (ids, now) =>
      call("requeueTasks", () => {
        let n = 0;
        for (const t of tasks.rows) {
          if (ids.includes(t.id) && t.status === "failed") {
            Object.assign(t, { status: "queued", dueAt: now, attempts: 0 });
            n++;
          }
        }
        return n;
      }),
    taskStats: (now) =>
      call("taskStats", () => {
        const counts = new Map<string, { kind: string; status: Task["status"]; count: number }>();
        for (const t of tasks.rows) {
          const key = `${t.kind}/${t.status}`;
          const c = counts.get(key) ?? { kind: t.kind, status: t.status, count: 0 };
          c.count++;
          counts.set(key, c);
        }
        const queued = tasks.rows.filter((t) => t.status === "queued");
        const age = (ts: number[]) => (ts.length === 0 ? 0 : Math.max(0, now.getTime() - Math.min(...ts)));
        return {
          counts: [...counts.values()],
          oldestDueMs: age(queued.filter((t) => t.dueAt <= now).map((t) => t.dueAt.getTime())),
          oldestEventMs: age(queued.filter((t) => t.kind === "publish" || t.kind === "deliver").map((t) => t.createdAt.getTime())),
        };
      }),
  };
}
