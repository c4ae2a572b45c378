// cachedFileReads and invalidatingRepository over an in-memory FileRepository
// (test/cache/helpers.ts: counts calls, can pause a read) and the real Redis.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cachedFileReads, invalidatingRepository } from "../../src/cache/cached-reads.js";
import { createRedisFileCache, type FileCache, type FileCacheOptions } from "../../src/cache/file-cache.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { REDIS_URL, deleteKeys, eventually, newPrefix, rawRedis } from "./helpers.js";
import { fullRecord, newFile, newOwner } from "../support/records.js";
import { createFakeRepository, type FakeRepository } from "../support/fake-repository.js";

const prefix = newPrefix();
let raw: Redis;
let cache: FileCache;
const closers: (() => Promise<unknown>)[] = [];

function open(url = REDIS_URL, options: FileCacheOptions = {}): FileCache {
  const opened = createRedisFileCache(url, { keyPrefix: prefix, ...options });
  closers.push(() => opened.close());
  return opened;
}

beforeAll(async () => {
  raw = rawRedis();
  cache = open();
  await eventually(() => cache.ping().then(() => true, () => false));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await deleteKeys(raw, prefix);
  raw.disconnect();
});

const recordKey = (id: string) => `${prefix}file:${id}`;
const isCached = async (id: string) => (await raw.exists(recordKey(id))) === 1;

/** A fake repository holding `records`, read through the cache and written through the decorator. */
function setUp(...records: ReturnType<typeof fullRecord>[]) {
  const repo = createFakeRepository();
  for (const r of records) repo.records.set(r.id, structuredClone(r));
  return { repo, reads: cachedFileReads(repo, cache), writes: invalidatingRepository(repo, cache) };
}

describe("cachedFileReads", () => {
  it("reads a miss from the repository, then serves it from Redis without the repository", async () => {
    const owner = newOwner();
    const record = fullRecord(owner);
    const { repo, reads } = setUp(record);

    expect(await reads.findByIds(owner, [record.id])).toStrictEqual([record]);
    expect(repo.calls.findByIds).toBe(1);
    expect(await isCached(record.id)).toBe(true);

    for (let i = 0; i < 3; i++) expect(await reads.findByIds(owner, [record.id])).toStrictEqual([record]);
    expect(repo.calls.findByIds).toBe(1);
  });

  it("asks the repository for the misses only", async () => {
    const owner = newOwner();
    const [a, b, c] = [fullRecord(owner), fullRecord(owner), fullRecord(owner)];
    const { repo, reads } = setUp(a, b, c);
    await reads.findByIds(owner, [a.id]);
    const spy = vi.spyOn(repo, "findByIds");

    const found = await reads.findByIds(owner, [a.id, b.id, c.id, "unknown", a.id]);
    expect(found.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
    expect(spy).toHaveBeenCalledTimes(1);
    expect([...(spy.mock.calls[0]?.[1] ?? [])].sort()).toEqual([b.id, c.id, "unknown"].sort());
    // Unknown ids are not cached: a file inserted later is found.
    expect(await isCached("unknown")).toBe(false);
    expect(await reads.findByIds(owner, [])).toEqual([]);
  });

  it("treats a cached record of another owner as not found", async () => {
    const owner = newOwner();
    const record = fullRecord(owner);
    const { repo, reads } = setUp(record);
    await reads.findByIds(owner, [record.id]);
    expect(await isCached(record.id)).toBe(true);

    const intruder = newOwner();
    expect(await reads.findByIds(intruder, [record.id])).toEqual([]);
    expect(repo.calls.findByIds).toBe(1);
    // And the other way round: cached by the intruder's (empty) read, nothing leaks.
    const other = fullRecord(owner);
    repo.records.set(other.id, structuredClone(other));
    expect(await reads.findByIds(intruder, [other.id])).toEqual([]);
    expect(await reads.findByIds(owner, [other.id])).toStrictEqual([other]);
  });

  it("does not cache a record read before a concurrent write (reader miss → DB read → write + invalidate → fill)", async () => {
    const owner = newOwner();
    const record = fullRecord(owner, { status: "pending", uploadedAt: null });
    const { repo, reads, writes } = setUp(record);

    let reached!: () => void;
    const readerHasRows = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    repo.afterRead = () => {
      reached();
      return new Promise<void>((resolve) => (release = resolve));
    };
    const reading = reads.findByIds(owner, [record.id]); // misses, reads the pending row, pauses
    await readerHasRows;
    repo.afterRead = undefined;

    const at = new Date("2025-02-03T04:05:06.789Z");
    expect(await writes.markUploaded(owner, [record.id], at)).toBe(1); // commits and invalidates
    release();
    expect((await reading)[0]?.status).toBe("pending"); // it was concurrent: the old row is a fair answer
    expect(await isCached(record.id)).toBe(false); // but it must not have been cached

    const calls = repo.calls.findByIds;
    expect((await reads.findByIds(owner, [record.id]))[0]).toMatchObject({ status: "uploaded", uploadedAt: at });
    expect(repo.calls.findByIds).toBe(calls + 1);
    expect((await reads.findByIds(owner, [record.id]))[0]?.status).toBe("uploaded"); // cached now
    expect(repo.calls.findByIds).toBe(calls + 1);
  });

  it("fills after the same interleaving without a write (the control for the test above)", async () => {
    const owner = newOwner();
    const record = fullRecord(owner);
    const { repo, reads } = setUp(record);
    let release!: () => void;
    let reached!: () => void;
    const readerHasRows = new Promise<void>((resolve) => (reached = resolve));
    repo.afterRead = () => {
      reached();
      return new Promise<void>((resolve) => (release = resolve));
    };
    const reading = reads.findByIds(owner, [record.id]);
    await readerHasRows;
    release();
    await reading;
    expect(await isCached(record.id)).toBe(true);
  });
});

describe("invalidatingRepository", () => {
  const at = new Date("2025-03-04T05:06:07.089Z");
  const result = {
    sha256: "ab".repeat(32),
    width: 10,
    height: 20,
    blurhash: "L00000fQfQfQfQfQfQfQfQfQfQfQ",
    variants: [{ name: "thumb", width: 5, height: 10, contentType: "image/webp", sizeBytes: 99, objectKey: "k/thumb.webp" }],
  };

  interface Case {
    /** Put the files in place (on the raw repository); returns the ids to cache beforehand. */
    given(repo: FakeRepository, owner: string): Promise<string[]>;
    /** The write, through the decorator; returns the ids it must have invalidated. */
    when(repo: FileRepository, owner: string, ids: string[]): Promise<string[]>;
    /** What a read then shows, when the file exists. */
    then?: Partial<ReturnType<typeof fullRecord>>;
  }

  const existing = (overrides: Partial<ReturnType<typeof fullRecord>>) => async (repo: FakeRepository, owner: string) => {
    const record = fullRecord(owner, overrides);
    repo.records.set(record.id, record);
    return [record.id];
  };
  const claimed = async (repo: FakeRepository, owner: string) => {
    const [id] = await existing({ processingStatus: "pending", variants: [] })(repo, owner);
    const jobs = await repo.claimProcessing({ workerId: "w1", leaseMs: 60_000, limit: 10, now: at });
    expect(jobs.map((j) => j.fileId)).toEqual([id]);
    return [id!];
  };

  const cases: Record<string, Case> = {
    insertPending: {
      given: async () => [newFile("x").id, newFile("x").id],
      async when(repo, owner, ids) {
        await repo.insertPending(ids.map((id) => newFile(owner, { id })));
        return ids;
      },
      then: { status: "pending" },
    },
    insertUploaded: {
      given: async () => [newFile("x").id],
      async when(repo, owner, [id]) {
        const inserted = await repo.insertUploaded({
          ...newFile(owner, { id: id! }),
          sha256: "cd".repeat(32),
          uploadedAt: at,
          processing: { webpQuality: null },
        });
        expect(inserted).toEqual({ inserted: true });
        return [id!];
      },
      then: { status: "uploaded", sha256: "cd".repeat(32) },
    },
    markUploaded: {
      given: existing({ status: "pending", uploadedAt: null }),
      async when(repo, owner, ids) {
        expect(await repo.markUploaded(owner, ids, at)).toBe(1);
        return ids;
      },
      then: { status: "uploaded", uploadedAt: at },
    },
    markDeleted: {
      given: existing({ status: "uploaded" }),
      async when(repo, owner, ids) {
        expect(await repo.markDeleted(owner, ids, at)).toBe(1);
        return ids;
      },
      then: { status: "deleted", deletedAt: at },
    },
    requestProcessing: {
      given: existing({ processingStatus: "failed", processingError: "boom" }),
      async when(repo, owner, ids) {
        expect(await repo.requestProcessing(owner, ids, { webpQuality: 80 }, at)).toBe(1);
        return ids;
      },
      then: { processingStatus: "pending", processingError: null },
    },
    claimProcessing: {
      given: existing({ processingStatus: "pending", variants: [] }),
      async when(repo, _owner, ids) {
        const jobs = await repo.claimProcessing({ workerId: "w1", leaseMs: 60_000, limit: 10, now: at });
        expect(jobs.map((j) => j.fileId)).toEqual(ids);
        return ids;
      },
      then: { processingStatus: "processing" },
    },
    completeProcessing: {
      given: claimed,
      async when(repo, _owner, [id]) {
        expect(await repo.completeProcessing(id!, "w1", result)).toBe(true);
        return [id!];
      },
      then: { processingStatus: "completed", ...result },
    },
    failProcessing: {
      given: claimed,
      async when(repo, _owner, [id]) {
        expect(await repo.failProcessing(id!, "w1", "not an image", null)).toBe(true);
        return [id!];
      },
      then: { processingStatus: "failed", processingError: "not an image" },
    },
  };

  it.each(Object.entries(cases))("%s invalidates the ids it changes", async (_name, c) => {
    const owner = newOwner();
    const repo = createFakeRepository();
    const reads = cachedFileReads(repo, cache);
    const writes = invalidatingRepository(repo, cache);
    const ids = await c.given(repo, owner);
    // Cache them: read what exists; put a stale stand-in under ids that do not exist yet.
    await reads.findByIds(owner, ids);
    const absent = ids.filter((id) => !repo.records.has(id));
    await cache.setMany(absent.map((id) => fullRecord(owner, { id })), await cache.getMany(absent));
    for (const id of ids) expect(await isCached(id)).toBe(true);

    const invalidated = await c.when(writes, owner, ids);
    for (const id of invalidated) expect(await isCached(id)).toBe(false);

    const calls = repo.calls.findByIds;
    const after = await reads.findByIds(owner, ids);
    expect(repo.calls.findByIds).toBe(calls + 1);
    expect(after).toHaveLength(ids.length);
    for (const record of after) expect(record).toMatchObject(c.then ?? {});
  });

  it("covers every write method of FileRepository", () => {
    expect(Object.keys(cases).sort()).toEqual(
      [
        "claimProcessing", "completeProcessing", "failProcessing", "insertPending", "insertUploaded",
        "markDeleted", "markUploaded", "requestProcessing",
      ].sort(),
    );
  });

  it("invalidates also when the write throws, and rethrows", async () => {
    const owner = newOwner();
    const record = fullRecord(owner, { status: "uploaded" });
    const { repo, reads, writes } = setUp(record);
    await reads.findByIds(owner, [record.id]);
    expect(await isCached(record.id)).toBe(true);
    const lost = new Error("connection lost after COMMIT");
    repo.failNextWrite = lost;
    await expect(writes.markDeleted(owner, [record.id], at)).rejects.toBe(lost);
    expect(await isCached(record.id)).toBe(false);
  });

  it("leaves reads and extra members alone, and keeps `this`", async () => {
    const owner = newOwner();
    const record = fullRecord(owner);
    const { repo, writes } = setUp(record);
    await writes.findByIds(owner, [record.id]);
    expect(await isCached(record.id)).toBe(false); // the decorator does not cache
    const { extra } = writes as FakeRepository;
    expect(extra()).toBe("extra:true");
    expect(writes.markUploaded).toBe(writes.markUploaded);
    expect(await writes.countByStatus()).toMatchObject({ pending: 0, uploaded: 1, deleted: 0 });
    expect(repo.calls.countByStatus).toBe(1);
  });
});

describe("with Redis unreachable", () => {
  it("reads from the repository and writes succeed, quickly", async () => {
    const onError = vi.fn();
    const down = open("redis://127.0.0.1:1", { onError });
    const owner = newOwner();
    const repo = createFakeRepository();
    const reads = cachedFileReads(repo, down);
    const writes = invalidatingRepository(repo, down);

    const started = performance.now();
    const files = [newFile(owner), newFile(owner)];
    await writes.insertPending(files);
    for (let i = 0; i < 10; i++) expect(await reads.findByIds(owner, [files[0]!.id, files[1]!.id])).toHaveLength(2);
    expect(repo.calls.findByIds).toBe(10);
    expect(await writes.markUploaded(owner, [files[0]!.id], now())).toBe(1);
    expect((await reads.findByIds(owner, [files[0]!.id]))[0]?.status).toBe("uploaded");
    expect(await writes.markDeleted(owner, [files[0]!.id], now())).toBe(1);
    expect((await reads.findByIds(owner, [files[0]!.id]))[0]?.status).toBe("deleted");
    expect(performance.now() - started).toBeLessThan(1_000);
    await eventually(async () => onError.mock.calls.length > 0);
  });
});

function now(): Date {
  return new Date();
}
