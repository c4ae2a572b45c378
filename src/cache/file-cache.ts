// A Redis read cache of file records, keyed by file id. Best effort by design:
// correctness never depends on it, so nothing here throws at a caller but ping().
//
// Keys (under `keyPrefix`):
//   file:<id>  the record as JSON (record-codec.ts), TTL `ttlSeconds`
//   gen:<id>   the id's generation: INCRemented by every invalidation, TTL likewise
//
// The stale-fill race (a reader misses and reads the old row, a writer commits
// and invalidates, then the reader stores the old row) is closed by a
// generation check rather than by timing: getMany reads each missed id's
// generation in the same MGET as the records, and setMany stores a record (in
// one Lua script, atomically) only if the generation is still the one seen. An
// invalidation between the two therefore always wins, however slow the reader
// was; one after the fill deletes the record. A short-lived tombstone with
// SET NX would lose to a reader slower than the tombstone's lifetime, and
// "delete before and after the write" leaves the window open after the second
// delete. (The generation key's own expiry could in theory let an old
// generation reappear; fills of lookups older than half its lifetime are
// dropped, so it cannot.)
//
// A dead Redis must not stall an RPC: no offline queue (commands fail at once
// while disconnected), a short command timeout, no retries of a command, and a
// breaker that skips Redis for a moment after a failure (so a Redis that hangs
// costs one timeout per `breakerMs`, not one per request).
//
// An invalidation that fails (Redis down) would leave a record that is stale
// for up to the TTL. So the ids are kept in memory and retried (every second,
// and when the connection comes back) until an invalidation succeeds; until
// then this process neither reads nor fills them. Other processes sharing the
// Redis may serve such a record until the retry succeeds (or up to the TTL if
// this process dies first, or more than `maxPendingInvalidations` ids pile up:
// the oldest are then dropped and reported).
import { Redis } from "ioredis";
import type { FileRecord } from "../domain/file.js";
import { decodeRecord, encodeRecord } from "./record-codec.js";

export type CacheOperation = "connection" | "get" | "set" | "invalidate";

export interface FileCacheOptions {
  /** Lifetime of a cached record; default 3600 (1 h). */
  ttlSeconds?: number;
  /** Prepended to every key; default "file-service:". */
  keyPrefix?: string;
  /** Per command; default 250 ms. */
  commandTimeoutMs?: number;
  /** How long Redis is skipped after a failure; default 1000 ms. */
  breakerMs?: number;
  /** Ids whose failed invalidation is remembered for retry; default 10,000. */
  maxPendingInvalidations?: number;
  /**
   * Told of failures, which are otherwise swallowed: at most one call per
   * operation per `errorReportIntervalMs` (default 10 s), so a dead Redis
   * does not flood the log.
   */
  onError?: (error: unknown, operation: CacheOperation) => void;
  errorReportIntervalMs?: number;
}

/** What getMany found; pass it back to setMany with the records read for the misses. */
export interface CacheLookup {
  /** Cached records by id (of any owner: the cache is keyed by id only). */
  readonly hits: ReadonlyMap<string, FileRecord>;
}

export interface FileCache {
  /** Cached records among `ids`. Never rejects: on any failure, everything is a miss. */
  getMany(ids: readonly string[]): Promise<CacheLookup>;
  /**
   * Caches records read from the database after `lookup`, skipping any whose
   * id was invalidated since (or was not looked up). Never rejects.
   */
  setMany(records: readonly FileRecord[], lookup: CacheLookup): Promise<void>;
  /** Drops the ids' records and fences off fills that began before. Never rejects (see above). */
  invalidate(ids: readonly string[]): Promise<void>;
  /** Resolves when Redis answers; rejects otherwise (for health reporting, not readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const FILL_SCRIPT = `
-- KEYS: record1, gen1, record2, gen2, ...  ARGV: ttlMs, gen1, json1, gen2, json2, ...
local stored = 0
for i = 1, #KEYS, 2 do
  local current = redis.call('GET', KEYS[i + 1]) or ''
  if current == ARGV[i + 1] then
    redis.call('SET', KEYS[i], ARGV[i + 2], 'PX', ARGV[1])
    stored = stored + 1
  end
end
return stored
`;

const INVALIDATE_SCRIPT = `
-- KEYS: record1, gen1, record2, gen2, ...  ARGV: genTtlMs
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i + 1])
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[1])
  redis.call('DEL', KEYS[i])
end
return 0
`;

type ScriptCommand = (numberOfKeys: number, ...args: string[]) => Promise<unknown>;

// What each lookup saw, for the fill's check; kept out of the public object.
interface Stamp {
  cache: object;
  /** Missed ids → their generation then ("" for none). */
  generations: Map<string, string>;
  at: number;
}
const stamps = new WeakMap<CacheLookup, Stamp>();

const RETRY_INTERVAL_MS = 1_000;
const INVALIDATE_CHUNK = 500;

export function createRedisFileCache(url: string, options: FileCacheOptions = {}): FileCache {
  const ttlMs = Math.round((options.ttlSeconds ?? 3_600) * 1_000);
  // At least as long as the records, so a generation outlives what it guards.
  const genTtlMs = Math.max(ttlMs, 60_000);
  const prefix = options.keyPrefix ?? "file-service:";
  const breakerMs = options.breakerMs ?? 1_000;
  const maxPending = options.maxPendingInvalidations ?? 10_000;
  const reportInterval = options.errorReportIntervalMs ?? 10_000;
  const recordKey = (id: string) => `${prefix}file:${id}`;
  const genKey = (id: string) => `${prefix}gen:${id}`;

  const client = new Redis(url, {
    commandTimeout: options.commandTimeoutMs ?? 250,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    // Keep trying in the background; requests never wait for it.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    connectionName: "file-service-cache",
  });
  client.defineCommand("fileCacheFill", { lua: FILL_SCRIPT });
  client.defineCommand("fileCacheInvalidate", { lua: INVALIDATE_SCRIPT });
  const scripts = client as unknown as Record<"fileCacheFill" | "fileCacheInvalidate", ScriptCommand>;

  const self: object = {};
  let closing: Promise<void> | undefined;

  const lastReported = new Map<CacheOperation, number>();
  function report(error: unknown, operation: CacheOperation): void {
    if (options.onError === undefined) return;
    const now = Date.now();
    const last = lastReported.get(operation);
    if (last !== undefined && now - last < reportInterval) return;
    lastReported.set(operation, now);
    try {
      options.onError(error, operation);
    } catch {
      // A failing logger must not turn a cache failure into an RPC failure.
    }
  }
  // Without a listener, ioredis prints every reconnection failure to stderr.
  client.on("error", (error: unknown) => report(error, "connection"));

  let openUntil = 0;
  const available = () => closing === undefined && Date.now() >= openUntil;
  function failed(error: unknown, operation: CacheOperation): void {
    openUntil = Date.now() + breakerMs;
    report(error, operation);
  }

  // Ids whose invalidation failed → a sequence number, bumped on every failure,
  // so a retry clears only what it covered (not a failure that came after it started).
  const pending = new Map<string, number>();
  let sequence = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let retrying = false;

  function markPending(ids: readonly string[]): void {
    for (const id of ids) {
      pending.delete(id); // re-insert: Map order is then oldest failure first
      pending.set(id, ++sequence);
    }
    if (pending.size > maxPending) {
      const dropped = [...pending.keys()].slice(0, pending.size - maxPending);
      for (const id of dropped) pending.delete(id);
      report(
        new Error(`${dropped.length} failed cache invalidations dropped; those records may be stale for up to ${ttlMs / 1000} s`),
        "invalidate",
      );
    }
    if (retryTimer === undefined && closing === undefined) {
      retryTimer = setInterval(() => void retryPending(), RETRY_INTERVAL_MS);
      retryTimer.unref();
    }
  }

  /** Invalidates now; on failure remembers the ids for retry. Never rejects. */
  async function invalidateNow(ids: readonly string[]): Promise<boolean> {
    if (!available()) {
      markPending(ids);
      return false;
    }
    const seen = ids.map((id) => pending.get(id));
    try {
      for (let i = 0; i < ids.length; i += INVALIDATE_CHUNK) {
        const chunk = ids.slice(i, i + INVALIDATE_CHUNK);
        const keys = chunk.flatMap((id) => [recordKey(id), genKey(id)]);
        await scripts.fileCacheInvalidate(keys.length, ...keys, String(genTtlMs));
      }
    } catch (error) {
      failed(error, "invalidate");
      markPending(ids);
      return false;
    }
    // Done after every failure that was already recorded, so those are covered too.
    ids.forEach((id, i) => {
      if (seen[i] !== undefined && pending.get(id) === seen[i]) pending.delete(id);
    });
    if (pending.size === 0) stopRetrying();
    return true;
  }

  async function retryPending(): Promise<void> {
    if (retrying || pending.size === 0 || closing !== undefined) return;
    retrying = true;
    try {
      // Not through the breaker: this is what probes whether Redis is back.
      openUntil = 0;
      await invalidateNow([...pending.keys()]);
    } finally {
      retrying = false;
    }
  }
  client.on("ready", () => void retryPending());

  function stopRetrying(): void {
    if (retryTimer !== undefined) clearInterval(retryTimer);
    retryTimer = undefined;
  }

  return {
    async getMany(ids) {
      const hits = new Map<string, FileRecord>();
      const lookup: CacheLookup = { hits };
      const wanted = [...new Set(ids)].filter((id) => !pending.has(id));
      if (wanted.length === 0 || !available()) return lookup;
      let values: (string | null)[];
      const at = Date.now();
      try {
        values = await client.mget(...wanted.map(recordKey), ...wanted.map(genKey));
      } catch (error) {
        failed(error, "get");
        return lookup;
      }
      const generations = new Map<string, string>();
      wanted.forEach((id, i) => {
        const record = decodeRecord(values[i] ?? null);
        // A record of another id would be a bug or a tampered key: not served.
        if (record !== undefined && record.id === id) hits.set(id, record);
        else generations.set(id, values[wanted.length + i] ?? "");
      });
      stamps.set(lookup, { cache: self, generations, at });
      return lookup;
    },

    async setMany(records, lookup) {
      const stamp = stamps.get(lookup);
      if (stamp === undefined || stamp.cache !== self || !available()) return;
      // See the top: a generation could only reappear after its key expired.
      if (Date.now() - stamp.at > genTtlMs / 2) return;
      const keys: string[] = [];
      const args: string[] = [String(ttlMs)];
      const seen = new Set<string>();
      for (const record of records) {
        const generation = stamp.generations.get(record.id);
        if (generation === undefined || pending.has(record.id) || seen.has(record.id)) continue;
        seen.add(record.id);
        keys.push(recordKey(record.id), genKey(record.id));
        args.push(generation, encodeRecord(record));
      }
      if (keys.length === 0) return;
      try {
        await scripts.fileCacheFill(keys.length, ...keys, ...args);
      } catch (error) {
        failed(error, "set");
      }
    },

    async invalidate(ids) {
      const unique = [...new Set(ids)];
      if (unique.length > 0) await invalidateNow(unique);
    },

    async ping() {
      await client.ping();
    },

    close: () =>
      (closing ??= (async () => {
        stopRetrying();
        if (client.status === "ready") {
          try {
            await client.quit();
            return;
          } catch {
            // fall through
          }
        }
        client.disconnect();
      })()),
  };
}
