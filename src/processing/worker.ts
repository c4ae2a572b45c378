// The in-process processing worker. Jobs live in the database (see
// FileRepository.claimProcessing), so every instance may run a worker: claims
// are exclusive, and a crashed instance's jobs are taken up again once their
// lease expires.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { runJob, type JobDeps } from "./run-job.js";
import { createClaimLoop } from "../shared/claim-loop.js";

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
  return createClaimLoop({
    concurrency,
    pollMs,
    claim: (limit) => files.claimProcessing({ workerId, leaseMs, limit, now: now() }),
    run: (job) => runJob(job, workerId, options),
    onError: (err, job) =>
      job ? log.error({ err, fileId: job.fileId }, "processing job crashed") : log.warn({ err }, "could not claim processing jobs"),
  });
}
