// The outbox's worker: claims due tasks (any instance may run one; claims are
// exclusive, see domain/task-queue.ts), runs each with the handler for its
// kind, and ends it: done (with any follow-up tasks, in the same transaction),
// retried with exponential backoff, or failed for good once the handler's
// attempts are spent (kept for an operator: npm run tasks -- --failed). Each
// round also sweeps pending files whose upload window ran out (expireDue).
import type { FileRepository } from "../domain/file-repository.js";
import type { NewTask, Task, TaskKind } from "../domain/task.js";
import type { Logger } from "../observability/logger.js";
import type { OutboxMetrics } from "../observability/outbox-metrics.js";
import { createClaimLoop, type ClaimLoop } from "../shared/claim-loop.js";

export interface TaskHandler {
  /** Does the task's work; returns the tasks it leads to. Throws to end this attempt (PermanentTaskError: no retry). */
  run(task: Task): Promise<readonly NewTask[] | void>;
  /** Attempts before the task fails for good; Infinity retries until it succeeds. */
  maxAttempts(task: Task): number;
  /** Told once when the task fails for good. */
  onGiveUp?(task: Task, error: string): void;
}

/** A failure no retry can fix (the task is malformed, say). */
export class PermanentTaskError extends Error {
  override name = "PermanentTaskError";
}

export interface TaskWorkerOptions {
  files: Pick<FileRepository, "claimTasks" | "completeTask" | "failTask" | "expireDue">;
  handlers: Partial<Record<TaskKind, TaskHandler>>;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  /** The first retry waits this long, each next one twice as long, up to retryCapMs. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Pending files expired per sweep. */
  expiryBatch: number;
  log: Logger;
  metrics?: Pick<OutboxMetrics, "tasksFailed" | "expiredFiles">;
  now?: () => Date;
}

const END_ATTEMPTS = 3;

export function createTaskWorker(options: TaskWorkerOptions): ClaimLoop {
  const { files, handlers, workerId, leaseMs, log } = options;
  const now = options.now ?? (() => new Date());
  const kinds = Object.keys(handlers) as TaskKind[];

  async function runTask(task: Task): Promise<void> {
    const handler = handlers[task.kind]!;
    const tlog = log.child({ taskId: task.id, kind: task.kind, fileId: task.fileId ?? undefined, attempt: task.attempts });
    let followUps: readonly NewTask[] | void;
    try {
      followUps = await handler.run(task);
    } catch (e) {
      const error = (e instanceof Error ? e.message : String(e)).slice(0, 1000);
      if (!(e instanceof PermanentTaskError) && task.attempts < handler.maxAttempts(task)) {
        const delay = Math.min(options.retryBaseMs * 2 ** (task.attempts - 1), options.retryCapMs);
        tlog.warn({ err: e, retryInMs: delay }, "task failed, will retry");
        await settle(() => files.failTask(task.id, workerId, error, new Date(now().getTime() + delay)));
        return;
      }
      tlog.error({ err: e }, "task failed for good; see npm run tasks -- --failed");
      if (await settle(() => files.failTask(task.id, workerId, error, null))) {
        options.metrics?.tasksFailed.inc({ kind: task.kind });
        handler.onGiveUp?.(task, error);
      }
      return;
    }
    if (!(await settle(() => files.completeTask(task.id, workerId, followUps ?? [])))) {
      tlog.warn("task finished after its lease ran out; another worker runs it again");
    } else if (followUps && followUps.length > 0) {
      loop.notify();
    }
  }

  /**
   * Ends a task, trying again at once when the database refused (a deadlock
   * victim, a dropped connection): otherwise the task would wait out its lease.
   * Both ends check the claim, so a try whose answer was lost is harmless.
   */
  async function settle(end: () => Promise<boolean>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await end();
      } catch (err) {
        if (attempt === END_ATTEMPTS) throw err;
        log.warn({ err, attempt }, "could not end a task; trying again");
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  async function sweepExpired(): Promise<void> {
    const expired = await files.expireDue(now(), options.expiryBatch);
    if (expired.length === 0) return;
    options.metrics?.expiredFiles.inc(expired.length);
    log.info({ count: expired.length, fileIds: expired }, "expired pending files whose upload window ran out");
    loop.notify();
  }

  const loop = createClaimLoop({
    concurrency: options.concurrency,
    pollMs: options.pollMs,
    beforeClaim: sweepExpired,
    claim: (limit) => files.claimTasks({ workerId, leaseMs, limit, now: now(), kinds }),
    run: runTask,
    onError: (err, task) =>
      task ? log.error({ err, taskId: task.id }, "could not end a task; its lease will expire") : log.warn({ err }, "could not claim tasks"),
  });
  return loop;
}
