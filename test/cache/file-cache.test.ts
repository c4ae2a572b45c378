// createRedisFileCache against the real Redis: serialization, TTLs, the
// generation check of fills, and a Redis that is unreachable, hangs, or goes
// away and comes back.
import { createServer, type Server, type Socket } from "node:net";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createRedisFileCache, type FileCache, type FileCacheOptions } from "../../src/cache/file-cache.js";
import { decodeRecord, encodeRecord } from "../../src/cache/record-codec.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { REDIS_URL, deleteKeys, eventually, newPrefix, rawRedis } from "./helpers.js";
import { fullRecord, newOwner } from "../support/records.js";

const prefix = newPrefix();
let raw: Redis;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  raw = rawRedis();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await deleteKeys(raw, prefix);
  raw.disconnect();
});

function open(url = REDIS_URL, options: FileCacheOptions = {}): FileCache {
  const cache = createRedisFileCache(url, { keyPrefix: prefix, ...options });
  closers.push(() => cache.close());
  return cache;
}

async function ready(cache: FileCache): Promise<FileCache> {
  await eventually(() => cache.ping().then(() => true, () => false));
  return cache;
}

const recordKey = (id: string) => `${prefix}file:${id}`;
const genKey = (id: string) => `${prefix}gen:${id}`;

describe("serialization", () => {
  it("round-trips a full record exactly: Dates, nulls, variants", () => {
    const record = fullRecord(newOwner());
    const back = decodeRecord(encodeRecord(record));
    expect(back).toStrictEqual(record);
    expect(back?.createdAt).toBeInstanceOf(Date);
    expect(back?.createdAt.getTime()).toBe(record.createdAt.getTime());
    expect(back?.uploadedAt?.getTime()).toBe(record.uploadedAt?.getTime());

    const bare = fullRecord(newOwner(), {
      status: "deleted",
      uploadedAt: null,
      deletedAt: new Date(1),
      sha256: null,
      width: null,
      height: null,
      blurhash: null,
      processingStatus: "failed",
      processingError: "not an image",
      variants: [],
    });
    expect(decodeRecord(encodeRecord(bare))).toStrictEqual(bare);
  });

  it("treats anything but a well-formed record of this format as a miss", () => {
    const good = JSON.parse(encodeRecord(fullRecord(newOwner()))) as { v: number; r: Record<string, unknown> };
    const variant = (change: (r: Record<string, unknown>) => void, v = good.v) => {
      const r = structuredClone(good.r);
      change(r);
      return JSON.stringify({ v, r });
    };
    expect(decodeRecord(JSON.stringify(good))).toBeDefined();
    expect(decodeRecord(null)).toBeUndefined();
    expect(decodeRecord("not json")).toBeUndefined();
    expect(decodeRecord(variant(() => {}, 999))).toBeUndefined();
    expect(decodeRecord(variant((r) => delete r.purpose))).toBeUndefined(); // cached before a field existed
    expect(decodeRecord(variant((r) => (r.status = "archived")))).toBeUndefined();
    expect(decodeRecord(variant((r) => (r.createdAt = "2025-01-01")))).toBeUndefined();
    expect(decodeRecord(variant((r) => (r.variants = [{ name: "thumb" }])))).toBeUndefined();
  });
});

describe("on a live Redis", () => {
  let cache: FileCache;
  beforeAll(async () => {
    cache = await ready(open());
  });

  it("stores what was looked up and missed, and returns it exactly", async () => {
    const record = fullRecord(newOwner());
    const miss = await cache.getMany([record.id]);
    expect(miss.hits.size).toBe(0);
    await cache.setMany([record], miss);

    const hit = await cache.getMany([record.id, "absent"]);
    expect([...hit.hits.keys()]).toEqual([record.id]);
    expect(hit.hits.get(record.id)).toStrictEqual(record);
  });

  it("keeps records for the TTL (1 h by default) and generations as long", async () => {
    const record = fullRecord(newOwner());
    await cache.setMany([record], await cache.getMany([record.id]));
    const pttl = await raw.pttl(recordKey(record.id));
    expect(pttl).toBeGreaterThan(3_600_000 - 10_000);
    expect(pttl).toBeLessThanOrEqual(3_600_000);

    await cache.invalidate([record.id]);
    const genTtl = await raw.pttl(genKey(record.id));
    expect(genTtl).toBeGreaterThan(3_600_000 - 10_000);
    expect(genTtl).toBeLessThanOrEqual(3_600_000);
  });

  it("honours ttlSeconds", async () => {
    const short = await ready(open(REDIS_URL, { ttlSeconds: 90 }));
    const record = fullRecord(newOwner());
    await short.setMany([record], await short.getMany([record.id]));
    const pttl = await raw.pttl(recordKey(record.id));
    expect(pttl).toBeGreaterThan(80_000);
    expect(pttl).toBeLessThanOrEqual(90_000);
  });

  it("invalidate drops the record", async () => {
    const record = fullRecord(newOwner());
    await cache.setMany([record], await cache.getMany([record.id]));
    expect(await raw.exists(recordKey(record.id))).toBe(1);
    await cache.invalidate([record.id]);
    expect(await raw.exists(recordKey(record.id))).toBe(0);
    expect((await cache.getMany([record.id])).hits.size).toBe(0);
  });

  it("does not fill after an invalidation that came after the lookup (the stale-fill race)", async () => {
    const old = fullRecord(newOwner(), { status: "pending" });
    const lookup = await cache.getMany([old.id]); // reader misses ...
    await cache.invalidate([old.id]); // ... a writer commits and invalidates ...
    await cache.setMany([old], lookup); // ... the reader stores what it read before
    expect(await raw.exists(recordKey(old.id))).toBe(0);

    // A lookup after the invalidation may fill again.
    const fresh = { ...old, status: "uploaded" as const };
    await cache.setMany([fresh], await cache.getMany([old.id]));
    expect((await cache.getMany([old.id])).hits.get(old.id)).toStrictEqual(fresh);
  });

  it("fills only ids that the lookup missed", async () => {
    const looked = fullRecord(newOwner());
    const other = fullRecord(newOwner());
    await cache.setMany([looked, other], await cache.getMany([looked.id]));
    expect(await raw.exists(recordKey(looked.id))).toBe(1);
    expect(await raw.exists(recordKey(other.id))).toBe(0);
    // A lookup that did not come from this cache fills nothing.
    const foreign = fullRecord(newOwner());
    await cache.setMany([foreign], { hits: new Map() });
    expect(await raw.exists(recordKey(foreign.id))).toBe(0);
  });

  it("serves a corrupt entry as a miss and overwrites it", async () => {
    const record = fullRecord(newOwner());
    await raw.set(recordKey(record.id), "{corrupt");
    const lookup = await cache.getMany([record.id]);
    expect(lookup.hits.size).toBe(0);
    await cache.setMany([record], lookup);
    expect((await cache.getMany([record.id])).hits.get(record.id)).toStrictEqual(record);
  });
});

describe("when Redis fails", () => {
  it("fails fast when nothing listens, reporting to onError", async () => {
    const onError = vi.fn();
    const cache = open("redis://127.0.0.1:1", { onError });
    const record = fullRecord(newOwner());
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const lookup = await cache.getMany([record.id]);
      expect(lookup.hits.size).toBe(0);
      await cache.setMany([record], lookup);
      await cache.invalidate([record.id]);
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(cache.ping()).rejects.toThrow();
    await eventually(async () => onError.mock.calls.length > 0);
  });

  it("fails fast when Redis accepts connections but never answers", async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as { port: number };
    const cache = open(`redis://127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // connected, handshake unanswered
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      expect((await cache.getMany(["x"])).hits.size).toBe(0);
      await cache.invalidate(["x"]);
    }
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("costs one command timeout, not one per call, when a connected Redis stalls", async () => {
    const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    closers.push(() => proxy.close());
    const cache = await ready(open(`redis://127.0.0.1:${proxy.port}`, { commandTimeoutMs: 200 }));
    proxy.pause();
    const started = performance.now();
    for (let i = 0; i < 20; i++) expect((await cache.getMany(["x"])).hits.size).toBe(0);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1_000);
    proxy.resume();
  });

  it("retries a failed invalidation once Redis is back", async () => {
    const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    closers.push(() => proxy.close());
    const cache = await ready(open(`redis://127.0.0.1:${proxy.port}`));
    const record = fullRecord(newOwner(), { status: "pending" });
    await cache.setMany([record], await cache.getMany([record.id]));
    expect(await raw.exists(recordKey(record.id))).toBe(1);

    proxy.cut();
    await cache.invalidate([record.id]); // a write happened; Redis did not hear of it
    expect(await raw.exists(recordKey(record.id))).toBe(1); // the stale record is still there

    proxy.restore();
    await eventually(async () => (await raw.exists(recordKey(record.id))) === 0);
    expect(Number(await raw.get(genKey(record.id)))).toBeGreaterThanOrEqual(1);
  });

  it("does not read or fill ids whose invalidation is still pending", async () => {
    const cache = await ready(open(REDIS_URL, { breakerMs: 0 }));
    const record = fullRecord(newOwner());
    const other = fullRecord(newOwner());
    await cache.setMany([record, other], await cache.getMany([record.id, other.id]));

    // An invalidation that fails while reads keep working: INCR on a non-integer fails the script.
    await raw.set(genKey(record.id), "not a number");
    await cache.invalidate([record.id]);
    expect(await raw.exists(recordKey(record.id))).toBe(1); // stale, and still in Redis

    const lookup = await cache.getMany([record.id, other.id]);
    expect([...lookup.hits.keys()]).toEqual([other.id]);
    await cache.setMany([record], lookup);

    // Once invalidating works again, the retry (every second) completes it.
    await raw.del(genKey(record.id));
    await eventually(async () => (await raw.exists(recordKey(record.id))) === 0);
    expect(await raw.get(genKey(record.id))).toBe("1");
    const after = await cache.getMany([record.id]);
    await cache.setMany([record], after);
    expect((await cache.getMany([record.id])).hits.has(record.id)).toBe(true);
  });
});
