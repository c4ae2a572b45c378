// The outbox's metrics: the queue read at scrape time (tasks by kind and
// status, the oldest due task, the age of the oldest unsent event) and what the
// workers did (expired files, purged objects, events delivered or given up,
// tasks failed for good). Registered on the service's registry.
import { Counter, Gauge, type Registry } from "prom-client";
import type { TaskStats } from "../domain/task.js";

export interface OutboxMetrics {
  tasksFailed: Counter<"kind">;
  expiredFiles: Counter;
  purgedObjects: Counter;
  eventsPublished: Counter<"sink">;
  eventsFailed: Counter<"sink">;
  /** Registers the queue's source, read once per scrape (a failing or slow one keeps the last values). */
  trackTasks(stats: () => Promise<TaskStats>): void;
}

const STATS_TIMEOUT_MS = 2_000;

export function createOutboxMetrics(registry: Registry, prefix: string): OutboxMetrics {
  const registers = [registry];
  let source: (() => Promise<TaskStats>) | undefined;
  let refreshing: Promise<void> | undefined;
  const tasks = new Gauge({ name: `${prefix}tasks`, help: "Outbox tasks by kind and status.", labelNames: ["kind", "status"] as const, registers });
  const oldestDue = new Gauge({ name: `${prefix}oldest_due_task_seconds`, help: "Age of the oldest queued task that is due (0: none).", registers });
  const lag = new Gauge({
    name: `${prefix}outbox_lag_seconds`,
    help: "Age of the oldest event not yet delivered to every sink (0: none).",
    registers,
    collect: () => {
      if (!source) return;
      refreshing ??= refresh(source).finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    },
  });

  async function refresh(stats: () => Promise<TaskStats>) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const s = await Promise.race([
        stats(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timed out")), STATS_TIMEOUT_MS))),
      ]);
      tasks.reset();
      for (const c of s.counts) tasks.set({ kind: c.kind, status: c.status }, c.count);
      oldestDue.set(s.oldestDueMs / 1000);
      lag.set(s.oldestEventMs / 1000);
    } catch {
      // Keep the last values: a scrape must not fail because the database does.
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    tasksFailed: new Counter({ name: `${prefix}tasks_failed_total`, help: "Tasks that ran out of attempts, by kind.", labelNames: ["kind"] as const, registers }),
    expiredFiles: new Counter({ name: `${prefix}expired_files_total`, help: "Pending files expired (never confirmed in their window).", registers }),
    purgedObjects: new Counter({ name: `${prefix}purged_objects_total`, help: "Objects removed for deleted or expired files.", registers }),
    eventsPublished: new Counter({ name: `${prefix}events_published_total`, help: "Events delivered, by sink.", labelNames: ["sink"] as const, registers }),
    eventsFailed: new Counter({ name: `${prefix}events_failed_total`, help: "Events given up on after the sink's attempts, by sink.", labelNames: ["sink"] as const, registers }),
    trackTasks(stats) {
      source = stats;
    },
  };
}
