// The processing worker in process: it claims due jobs and runs them, and a
// job whose worker died is taken up again once its lease runs out.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import { createLocalObjectStore, type LocalObjectStore } from "../../src/storage/local/local-object-store.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { objectKeyFor } from "../../src/storage/object-keys.js";
import { createProcessingWorker, type ProcessingWorker } from "../../src/processing/worker.js";
import { createLogger } from "../../src/observability/logger.js";
import { solid } from "../support/images.js";
import { md5Base64 } from "../support/upload.js";
import { newOwner, newUploaded } from "../support/records.js";
import { eventually } from "../cache/helpers.js";

let dir: string;
let files: FileRepository;
let objects: LocalObjectStore;
const workers: ProcessingWorker[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-worker-"));
  files = await createSqliteFileRepository(join(dir, "files.db"));
  objects = await createLocalObjectStore({ dir: join(dir, "objects"), publicUrl: "http://in-process.invalid", secret: "x".repeat(32) });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(1_000)));
  await files?.close();
  await rm(dir, { recursive: true, force: true });
});

function startWorker(workerId: string, leaseMs = 60_000): ProcessingWorker {
  const worker = createProcessingWorker({
    files,
    objects,
    images: { webpQuality: 82, maxPixels: 50_000_000 },
    retry: { maxAttempts: 3, retryBaseMs: 10 },
    log: createLogger("silent"),
    workerId,
    concurrency: 2,
    leaseMs,
    pollMs: 50,
  });
  worker.start();
  workers.push(worker);
  return worker;
}

async function uploadedFile(): Promise<{ owner: string; id: string }> {
  const owner = newOwner();
  const file = newUploaded(owner, { purpose: "avatar", uploadedAt: new Date() });
  const png = await solid(120, 90, "png");
  await objects.put({ key: objectKeyFor(file.id), body: png, contentType: "image/png", contentLength: png.length, md5: md5Base64(png) });
  await files.insertUploaded({ ...file, objectKey: objectKeyFor(file.id) });
  return { owner, id: file.id };
}

const statusOf = async ({ owner, id }: { owner: string; id: string }) => (await files.findByIds(owner, [id]))[0]?.processingStatus;

describe("the processing worker", () => {
  it("processes what is queued, in the background", async () => {
    const worker = startWorker("w1");
    const files3 = await Promise.all([uploadedFile(), uploadedFile(), uploadedFile()]);
    worker.notify();
    await eventually(async () => (await Promise.all(files3.map(statusOf))).every((s) => s === "completed"), 10_000);
  });

  it("takes up a job again once the lease of a worker that died runs out", async () => {
    const file = await uploadedFile();
    // A worker claims the job for 300 ms, then dies (never completes nor fails it).
    const [claimed] = await files.claimProcessing({ workerId: "dead", leaseMs: 300, limit: 1, now: new Date() });
    expect(claimed?.fileId).toBe(file.id);
    const started = Date.now();
    startWorker("alive");
    await eventually(async () => (await statusOf(file)) === "completed", 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // The dead worker's late result is refused: the claim is no longer its own.
    expect(await files.failProcessing(file.id, "dead", "late", null)).toBe(false);
  });
});
