// The cache over the real SQLite repository and the real Redis: rows as the
// database returns them round-trip through Redis exactly, hits skip the
// database, writes through invalidatingRepository show up in the next read.
//
// Skipped while the SQLite repository does not implement the whole
// FileRepository yet (it is being extended): its rows would lack fields, which
// the cache rightly refuses to serve.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cachedFileReads, invalidatingRepository } from "../../src/cache/cached-reads.js";
import { createRedisFileCache, type FileCache } from "../../src/cache/file-cache.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import { REDIS_URL, deleteKeys, eventually, newPrefix, rawRedis } from "./helpers.js";
import { newFile, newOwner } from "../support/records.js";

const prefix = newPrefix();
const root = await mkdtemp(path.join(tmpdir(), "file-service-cache-"));
const repo: FileRepository = await createSqliteFileRepository(path.join(root, "files.db"));
const complete = (["insertUploaded", "claimProcessing", "completeProcessing"] as const).every(
  (method) => typeof (repo as Partial<FileRepository>)[method] === "function",
);

let raw: Redis;
let cache: FileCache;

beforeAll(async () => {
  raw = rawRedis();
  cache = createRedisFileCache(REDIS_URL, { keyPrefix: prefix });
  await eventually(() => cache.ping().then(() => true, () => false));
});

afterAll(async () => {
  await cache?.close();
  await repo.close();
  await deleteKeys(raw, prefix);
  raw.disconnect();
  await rm(root, { recursive: true, force: true });
});

describe.skipIf(!complete)("over the SQLite repository", () => {
  it("reads through, serves hits without the database, and sees every write", async () => {
    const files = invalidatingRepository(repo, cache);
    const reads = cachedFileReads(files, cache);
    const owner = newOwner();
    const news = [newFile(owner, { purpose: "avatar" }), newFile(owner)];
    const ids = news.map((f) => f.id);
    await files.insertPending(news);

    const fromDatabase = await repo.findByIds(owner, ids);
    expect(fromDatabase).toHaveLength(2);
    const spy = vi.spyOn(repo, "findByIds");
    expect(sorted(await reads.findByIds(owner, ids))).toStrictEqual(sorted(fromDatabase));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(sorted(await reads.findByIds(owner, ids))).toStrictEqual(sorted(fromDatabase)); // from Redis, exactly
    expect(spy).toHaveBeenCalledTimes(1);
    const pttl = await raw.pttl(`${prefix}file:${ids[0]}`);
    expect(pttl).toBeGreaterThan(3_590_000);
    expect(await reads.findByIds(newOwner(), ids)).toEqual([]);

    const uploadedAt = new Date("2025-04-05T06:07:08.009Z");
    expect(await files.markUploaded(owner, ids, uploadedAt)).toBe(2);
    for (const r of await reads.findByIds(owner, ids)) expect(r).toMatchObject({ status: "uploaded", uploadedAt });
    expect(spy).toHaveBeenCalledTimes(2);

    const deletedAt = new Date("2025-04-05T06:07:09.010Z");
    expect(await files.markDeleted(owner, [ids[0]!], deletedAt)).toBe(1);
    const [deleted] = await reads.findByIds(owner, [ids[0]!]);
    expect(deleted).toMatchObject({ status: "deleted", deletedAt });
    expect(deleted).toStrictEqual((await repo.findByIds(owner, [ids[0]!]))[0]);
    spy.mockRestore();
  });

  it("round-trips a processed file with its variants, and sees each processing step", async () => {
    const files = invalidatingRepository(repo, cache);
    const reads = cachedFileReads(files, cache);
    const owner = newOwner();
    const file = newFile(owner, { purpose: "profile_picture", contentType: "image/png" });
    const at = new Date("2025-05-06T07:08:09.123Z");
    const inserted = await files.insertUploaded({ ...file, sha256: "ef".repeat(32), uploadedAt: at, processing: { webpQuality: null } });
    expect(inserted).toEqual({ inserted: true });
    expect((await reads.findByIds(owner, [file.id]))[0]).toMatchObject({ status: "uploaded", processingStatus: "pending" });

    const jobs = await files.claimProcessing({ workerId: "w1", leaseMs: 60_000, limit: 100, now: new Date() });
    expect(jobs.map((j) => j.fileId)).toContain(file.id);
    expect((await reads.findByIds(owner, [file.id]))[0]?.processingStatus).toBe("processing");

    const variants = ["large", "medium", "thumb"].map((name, i) => ({
      name,
      width: 800 >> i,
      height: 600 >> i,
      contentType: "image/webp",
      sizeBytes: 50_000 >> i,
      objectKey: `${file.objectKey}/${name}.webp`,
    }));
    const result = { sha256: "ef".repeat(32), width: 1600, height: 1200, blurhash: "LKO2?U%2Tw=w]~RBVZRi};RPxuwH", variants };
    expect(await files.completeProcessing(file.id, "w1", result)).toBe(true);

    const [viaCache] = await reads.findByIds(owner, [file.id]); // a miss: completeProcessing invalidated it
    const [again] = await reads.findByIds(owner, [file.id]); // a hit
    const [direct] = await repo.findByIds(owner, [file.id]);
    expect(direct).toMatchObject({ processingStatus: "completed", variants });
    expect(viaCache).toStrictEqual(direct);
    expect(again).toStrictEqual(direct);
  });
});

function sorted<T extends { id: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : 1));
}
