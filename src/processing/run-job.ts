// One claimed processing job, start to end. A job ends completed, failed for
// good (the bytes are not an acceptable image, or attempts ran out), or handed
// back for a retry with exponential backoff (a dependency failed).
import type { ProcessingJob } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { Logger } from "../observability/logger.js";
import { ImageRejectedError } from "../domain/errors.js";
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
}

export type JobOutcome = "completed" | "failed" | "retry" | "lost";

const MAX_BACKOFF_MS = 5 * 60_000;

export async function runJob(job: ProcessingJob, workerId: string, deps: JobDeps): Promise<JobOutcome> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ fileId: job.fileId, attempt: job.attempts });
  try {
    const original = await deps.objects.get(job.objectKey);
    if (original === null) {
      return await giveUp("the uploaded bytes are missing from the object store");
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

  async function giveUp(reason: string): Promise<JobOutcome> {
    log.info({ reason }, "processing failed for good");
    await deps.files.failProcessing(job.fileId, workerId, reason, null);
    return "failed";
  }
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 500);
}
