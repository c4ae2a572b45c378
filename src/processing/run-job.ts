// One claimed processing job, start to end. With a scanner, a file whose scan is
// pending is scanned first: infected → quarantined (nothing is made of it);
// the scanner down → handed back, retried every minute at most, for as long as
// it takes (a scanner outage never spends the job's attempts: files wait, they
// do not fail). Then a job ends completed, failed for good (the bytes are not
// an acceptable image, or attempts ran out), or handed back for a retry with
// exponential backoff (a dependency failed).
import { Readable } from "node:stream";
import type { ProcessingJob } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { Logger } from "../observability/logger.js";
import { DependencyUnavailableError, ImageRejectedError } from "../domain/errors.js";
import type { Scanner } from "../scanning/scanner.js";
import { makeVariants, type ImageSettings } from "./make-variants.js";

export interface RetryPolicy {
  maxAttempts: number;
  /** The first retry waits this long; each further one twice as long (capped at 5 minutes). */
  retryBaseMs: number;
}

export interface JobDeps {
  files: FileRepository;
  objects: ObjectStore;
  images: ImageSettings;
  retry: RetryPolicy;
  log: Logger;
  now?: () => Date;
  /** Scans files whose scan is pending before anything is made of them. */
  scanner?: Scanner;
  /** Told each scan's verdict (metrics). */
  onScanned?: (verdict: "clean" | "infected" | "error") => void;
}

export type JobOutcome = "completed" | "failed" | "retry" | "lost" | "quarantined";

const MAX_BACKOFF_MS = 5 * 60_000;
// A scanner outage is retried this often at most, and never runs out of attempts.
const MAX_SCAN_BACKOFF_MS = 60_000;

export async function runJob(claimed: ProcessingJob, workerId: string, deps: JobDeps): Promise<JobOutcome> {
  let job = claimed;
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ fileId: job.fileId, attempt: job.attempts });
  try {
    const original = await deps.objects.get(job.objectKey);
    if (original === null) {
      return await giveUp("the uploaded bytes are missing from the object store");
    }
    if (deps.scanner && job.scanStatus === "pending") {
      const scanned = await scan(original);
      if (scanned !== "clean") return scanned;
      // The claims spent waiting for the scanner are not processing attempts (recordScan counts from 1).
      job = { ...job, attempts: 1 };
    }
    const result = await makeVariants(
      { fileId: job.fileId, purpose: job.purpose, source: original, webpQuality: job.webpQuality },
      deps.objects,
      deps.images,
    );
    if (await deps.files.completeProcessing(job.fileId, workerId, result)) {
      log.info({ variants: result.variants.length }, "processed");
      return "completed";
    }
    // Deleted meanwhile (or our lease ran out and another worker took over):
    // variants of a deleted file must not outlive it.
    const [record] = await deps.files.findByIds(job.ownerId, [job.fileId]);
    if (record === undefined || record.status === "deleted") {
      await deps.objects.delete(result.variants.map((v) => v.objectKey));
    }
    return "lost";
  } catch (e) {
    if (e instanceof ImageRejectedError) return giveUp(e.message);
    if (e instanceof DependencyUnavailableError && e.dependency === "malware scanner") {
      const delay = Math.min(deps.retry.retryBaseMs * 2 ** (job.attempts - 1), MAX_SCAN_BACKOFF_MS);
      log.warn({ retryInMs: delay }, "the malware scanner is unavailable: the file waits, unscanned");
      await deps.files
        .failProcessing(job.fileId, workerId, "waiting for the malware scanner", new Date(now().getTime() + delay))
        .catch((err: unknown) => log.warn({ err }, "could not hand the job back; its lease will expire"));
      return "retry";
    }
    if (job.attempts >= deps.retry.maxAttempts) {
      log.warn({ err: e }, "processing failed, no attempts left");
      return giveUp(`processing failed ${job.attempts} times; last error: ${e instanceof Error ? e.message : "unknown"}`);
    }
    const delay = Math.min(deps.retry.retryBaseMs * 2 ** (job.attempts - 1), MAX_BACKOFF_MS);
    log.warn({ err: e, retryInMs: delay }, "processing failed, will retry");
    await deps.files
      .failProcessing(job.fileId, workerId, errorText(e), new Date(now().getTime() + delay))
      .catch((err: unknown) => log.warn({ err }, "could not hand the job back; its lease will expire"));
    return "retry";
  }

  /** "clean" to go on; otherwise the job's outcome. Throws when the scanner cannot answer now. */
  async function scan(original: Awaited<ReturnType<ObjectStore["get"]>>): Promise<"clean" | JobOutcome> {
    const verdict = await deps.scanner!.scan(Readable.from([original!]), job.sizeBytes);
    deps.onScanned?.(verdict.verdict);
    const at = now();
    if (verdict.verdict === "clean") {
      return (await deps.files.recordScan(job.fileId, workerId, { status: "clean", at })) ? "clean" : "lost";
    }
    if (verdict.verdict === "infected") {
      if (!(await deps.files.quarantine(job.fileId, workerId, { status: "infected", signature: verdict.signature, at }))) return "lost";
      log.warn({ signature: verdict.signature }, "malware found: file quarantined");
      return "quarantined";
    }
    await deps.files.recordScan(job.fileId, workerId, { status: "error", reason: verdict.reason, at });
    return giveUp(`the malware scan could not judge the file: ${verdict.reason}`);
  }

  async function giveUp(reason: string): Promise<JobOutcome> {
    log.info({ reason }, "processing failed for good");
    await deps.files.failProcessing(job.fileId, workerId, reason, null);
    return "failed";
  }
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 500);
}
