// One processing job, start to end, in process (SQLite, the local store in a
// temp folder): completed with its variants stored, retried with backoff when a
// dependency fails, failed for good when the bytes are not an image, the
// attempts ran out, or the bytes are gone.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import { createLocalObjectStore, type LocalObjectStore } from "../../src/storage/local/local-object-store.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import type { ProcessingJob } from "../../src/domain/file.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { objectKeyFor } from "../../src/storage/object-keys.js";
import { runJob, type JobDeps } from "../../src/processing/run-job.js";
import type { Scanner } from "../../src/scanning/scanner.js";
import { createLogger } from "../../src/observability/logger.js";
import { htmlBytes, solid } from "../support/images.js";
import { md5Base64 } from "../support/upload.js";
import { newOwner, newUploaded, sha256Of } from "../support/records.js";

let dir: string;
let files: FileRepository;
let objects: LocalObjectStore;
const t0 = new Date("2026-01-01T00:00:00.000Z");
const retry = { maxAttempts: 3, retryBaseMs: 1_000 };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-run-job-"));
  files = await createSqliteFileRepository(join(dir, "files.db"));
  objects = await createLocalObjectStore({ dir: join(dir, "objects"), publicUrl: "http://in-process.invalid", secret: "x".repeat(32) });
});
afterEach(async () => {
  await files?.close();
  await rm(dir, { recursive: true, force: true });
});

const deps = (overrides: Partial<JobDeps> = {}): JobDeps => ({
  files,
  objects,
  images: { webpQuality: 82, maxPixels: 50_000_000 },
  retry,
  log: createLogger("silent"),
  now: () => t0,
  ...overrides,
});

/** An uploaded file with `bytes` as its object, claimed by worker "w" at t0. */
async function claimedJob(bytes: Buffer | null, attemptsBefore = 0): Promise<ProcessingJob> {
  const owner = newOwner();
  const file = newUploaded(owner, { purpose: "avatar", uploadedAt: t0, sha256: sha256Of(owner) });
  const objectKey = objectKeyFor(file.id);
  await files.insertUploaded({ ...file, objectKey });
  if (bytes !== null) await objects.put({ key: objectKey, body: bytes, contentType: "image/png", contentLength: bytes.length, md5: md5Base64(bytes) });
  let job: ProcessingJob | undefined;
  for (let i = 0; i <= attemptsBefore; i++) {
    [job] = await files.claimProcessing({ workerId: "w", leaseMs: 1, limit: 1, now: new Date(t0.getTime() + 10 * i) });
  }
  return job!;
}

const recordOf = async (job: ProcessingJob) => (await files.findByIds(job.ownerId, [job.fileId]))[0]!;

describe("runJob", () => {
  it("stores the variants beside the original and records the result", async () => {
    const job = await claimedJob(await solid(400, 300, "png"));
    expect(await runJob(job, "w", deps())).toBe("completed");
    const record = await recordOf(job);
    expect(record).toMatchObject({ processingStatus: "completed", width: 400, height: 300 });
    expect(record.variants.map((v) => v.name)).toEqual(["large", "medium", "thumb"]);
    for (const v of record.variants) expect(await objects.head(v.objectKey)).not.toBeNull();
  });

  it("hands the job back, due after the backoff, when a dependency fails", async () => {
    const job = await claimedJob(await solid(40, 30, "png"));
    const failing = { ...objects, get: async () => Promise.reject(new DependencyUnavailableError("object store", new Error("EIO"))) };
    expect(await runJob(job, "w", deps({ objects: failing }))).toBe("retry");
    expect(await recordOf(job)).toMatchObject({ processingStatus: "pending", processingError: "object store is unavailable" });
    // Not before the first backoff (retryBaseMs), then due.
    expect(await files.claimProcessing({ workerId: "w2", leaseMs: 1000, limit: 1, now: new Date(t0.getTime() + 999) })).toEqual([]);
    expect(await files.claimProcessing({ workerId: "w2", leaseMs: 1000, limit: 1, now: new Date(t0.getTime() + 1000) })).toHaveLength(1);
  });

  it("fails for good, saying why, when the bytes are not an image", async () => {
    const job = await claimedJob(htmlBytes());
    expect(await runJob(job, "w", deps())).toBe("failed");
    expect(await recordOf(job)).toMatchObject({ processingStatus: "failed", processingError: "the content is not a JPEG, PNG, GIF or WebP image" });
  });

  it("fails for good when the uploaded bytes are gone", async () => {
    const job = await claimedJob(null);
    expect(await runJob(job, "w", deps())).toBe("failed");
    expect((await recordOf(job)).processingError).toBe("the uploaded bytes are missing from the object store");
  });

  it("fails for good once the attempts ran out", async () => {
    const job = await claimedJob(await solid(40, 30, "png"), retry.maxAttempts - 1);
    expect(job.attempts).toBe(retry.maxAttempts);
    const failing = { ...objects, get: async () => Promise.reject(new Error("disk on fire")) };
    expect(await runJob(job, "w", deps({ objects: failing }))).toBe("failed");
    expect((await recordOf(job)).processingError).toBe("processing failed 3 times; last error: disk on fire");
  });

  it("removes the variants it made for a file deleted meanwhile", async () => {
    const job = await claimedJob(await solid(100, 100, "png"));
    await files.markDeleted(job.ownerId, [job.fileId], t0);
    expect(await runJob(job, "w", deps())).toBe("lost");
    for (const name of ["thumb", "medium", "large"]) expect(await objects.head(`files/${job.fileId}/${name}`)).toBeNull();
  });
});

describe("the malware scan step", () => {
  /** A job whose scan is pending, as ConfirmUpload leaves it with a scanner configured. */
  async function scanPendingJob(bytes: Buffer): Promise<ProcessingJob> {
    const job = await claimedJob(bytes);
    return { ...job, scanStatus: "pending" };
  }
  const scanner = (verdict: Awaited<ReturnType<Scanner["scan"]>> | Error) => {
    const scanned: number[] = [];
    const s: Scanner = {
      async scan(body, size) {
        for await (const _ of body) void _;
        scanned.push(size);
        if (verdict instanceof Error) throw verdict;
        return verdict;
      },
      ping: async () => {},
    };
    return Object.assign(s, { scanned });
  };

  it("scans first, records clean, then makes the variants", async () => {
    const bytes = await solid(64, 64, "png");
    const job = await scanPendingJob(bytes);
    const s = scanner({ verdict: "clean" });
    expect(await runJob(job, "w", deps({ scanner: s }))).toBe("completed");
    expect(s.scanned).toEqual([job.sizeBytes]);
    const [record] = await files.findByIds(job.ownerId, [job.fileId]);
    expect(record).toMatchObject({ scanStatus: "clean", scannedAt: t0, processingStatus: "completed" });
  });

  it("quarantines an infected file: nothing made of it, its move and its event queued with the change", async () => {
    const bytes = await solid(64, 64, "png");
    const job = await scanPendingJob(bytes);
    expect(await runJob(job, "w", deps({ scanner: scanner({ verdict: "infected", signature: "Test.EICAR" }) }))).toBe("quarantined");
    const [record] = await files.findByIds(job.ownerId, [job.fileId]);
    expect(record).toMatchObject({ status: "quarantined", scanStatus: "infected", scanSignature: "Test.EICAR", processingStatus: "cancelled", variants: [] });
    const claim = () => files.claimTasks({ workerId: "t", leaseMs: 1000, limit: 10, now: new Date(Date.now() + 1000), kinds: ["quarantine", "publish"] });
    const first = await claim(); // the upload's own event, and the move
    expect(first.map((t) => [t.kind, t.kind === "publish" ? JSON.parse(t.payload!).type : null])).toEqual([
      ["publish", "uploaded"],
      ["quarantine", null],
    ]);
    for (const t of first) await files.completeTask(t.id, "t");
    const [next] = await claim();
    expect(JSON.parse(next!.payload!)).toMatchObject({ type: "quarantined" });
  });

  it("waits while the scanner is down: retried within a minute, however many attempts it took", async () => {
    const bytes = await solid(64, 64, "png");
    const job = { ...(await scanPendingJob(bytes)), attempts: 50 };
    const down = scanner(new DependencyUnavailableError("malware scanner", new Error("ECONNREFUSED")));
    expect(await runJob(job, "w", deps({ scanner: down }))).toBe("retry");
    const [record] = await files.findByIds(job.ownerId, [job.fileId]);
    expect(record).toMatchObject({ status: "uploaded", processingStatus: "pending", processingError: "waiting for the malware scanner" });
    expect(await files.claimProcessing({ workerId: "w", leaseMs: 1000, limit: 1, now: new Date(t0.getTime() + 59_999) })).toEqual([]);
    expect(await files.claimProcessing({ workerId: "w", leaseMs: 1000, limit: 1, now: new Date(t0.getTime() + 60_000) })).toHaveLength(1);
  });

  it("counts processing attempts from the clean scan: claims spent waiting for the scanner do not use them up", async () => {
    const bytes = await solid(64, 64, "png");
    const job = { ...(await scanPendingJob(bytes)), attempts: 50 };
    // The scan passes, then the store fails while the variants are written: a retry, not a failure for good.
    const failingPut = { ...objects, put: () => Promise.reject(new DependencyUnavailableError("object store", new Error("ECONNRESET"))) } as typeof objects;
    expect(await runJob(job, "w", deps({ scanner: scanner({ verdict: "clean" }), objects: failingPut }))).toBe("retry");
    const [record] = await files.findByIds(job.ownerId, [job.fileId]);
    expect(record).toMatchObject({ status: "uploaded", scanStatus: "clean", processingStatus: "pending" });
    // Retried after the first backoff step, as attempt 2 (the repository counted from the scan).
    const [again] = await files.claimProcessing({ workerId: "w", leaseMs: 1000, limit: 1, now: new Date(t0.getTime() + retry.retryBaseMs) });
    expect(again).toMatchObject({ fileId: job.fileId, attempts: 2, scanStatus: "clean" });
  });

  it("never passes a file the scanner cannot judge: scan error, processing failed with the reason", async () => {
    const bytes = await solid(64, 64, "png");
    const job = await scanPendingJob(bytes);
    expect(await runJob(job, "w", deps({ scanner: scanner({ verdict: "error", reason: "larger than the scanner's 1-byte limit" }) }))).toBe("failed");
    const [record] = await files.findByIds(job.ownerId, [job.fileId]);
    expect(record).toMatchObject({ scanStatus: "error", scanError: "larger than the scanner's 1-byte limit", processingStatus: "failed" });
  });
});
