// The in-process processing worker. Jobs live in the database (see
// FileRepository.claimProcessing), so every instance may run a worker: claims
// are exclusive, and a crashed instance's jobs are taken up again once their
// lease expires.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { runJob, type JobDeps } from "./run-job.js";

export interface WorkerOptions extends JobDeps {
  /** Names this process's claims. */
  workerId: string;
  /** Jobs processed at once. */
  concurrency: number;
  /** How long a claim holds before another worker may take the job. */
  leaseMs: number;
  /** How often to look for due jobs when idle. */
  pollMs: number;
}

export interface ProcessingWorker {
  start(): void;
  /** Looks for work now (e.g. a job was just queued in this process). */
  notify(): void;
  /** Stops claiming and waits (at most `timeoutMs`) for running jobs; unfinished ones are resumed elsewhere. */
  stop(timeoutMs: number): Promise<void>;
}

export function newWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export function createProcessingWorker(options: WorkerOptions): ProcessingWorker {
  const { files, log, workerId, concurrency, leaseMs, pollMs } = options;
  const now = options.now ?? (() => new Date());
  const running = new Set<Promise<unknown>>();
  let stopped = true;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  async function run() {
    while (!stopped) {
      const free = concurrency - running.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await files.claimProcessing({ workerId, leaseMs, limit: free, now: now() });
          claimed = jobs.length;
          for (const job of jobs) {
            const task: Promise<unknown> = runJob(job, workerId, options)
              .catch((err: unknown) => log.error({ err, fileId: job.fileId }, "processing job crashed"))
              .finally(() => {
                running.delete(task);
                wake?.();
              });
            running.add(task);
          }
        } catch (err) {
          log.warn({ err }, "could not claim processing jobs");
        }
      }
      // A full batch suggests more is due: look again at once.
      if (claimed > 0 && claimed === free) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start() {
      if (!stopped || concurrency < 1) return;
      stopped = false;
      loop = run();
    },
    notify() {
      wake?.();
    },
    async stop(timeoutMs) {
      stopped = true;
      wake?.();
      await loop;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
  };
}
