// Shared by the cache tests: the real Redis (a unique key prefix per test file,
// deleted afterwards), full FileRecords, and an in-memory FileRepository that
// counts its calls and can be paused mid-read.
import { newRecord } from "../db/file-repository-contract.js";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import type { FileRecord, NewFileRecord, NewUploadedFile, ProcessingJob } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";

export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A key prefix no other test run shares. */
export const newPrefix = () => `file-service-test:${randomUUID()}:`;

export const newOwner = () => `owner-${randomUUID()}`;

/** A direct connection, to look at (and clean up) what the cache stored. */
export function rawRedis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}

/** Every field set, Dates with milliseconds, variants included. */
export function fullRecord(ownerId: string, overrides: Partial<FileRecord> = {}): FileRecord {
  const id = overrides.id ?? uuidv7();
  return {
    id,
    ownerId,
    filename: "Ünïcode \"quoted\" photo.jpg",
    contentType: "image/jpeg",
    sizeBytes: 9_007_199_254_740_991,
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    status: "uploaded",
    objectKey: `${ownerId}/${id}`,
    createdAt: new Date("2025-01-02T03:04:05.678Z"),
    uploadedAt: new Date("2025-01-02T03:04:06.001Z"),
    deletedAt: null,
    purpose: "cover_photo",
    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    width: 4032,
    height: 3024,
    blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    processingStatus: "completed",
    processingError: null,
    variants: [
      { name: "large", width: 1600, height: 1200, contentType: "image/webp", sizeBytes: 210_000, objectKey: `${ownerId}/${id}/large.webp` },
      { name: "medium", width: 800, height: 600, contentType: "image/webp", sizeBytes: 61_000, objectKey: `${ownerId}/${id}/medium.webp` },
      { name: "thumb", width: 200, height: 150, contentType: "image/webp", sizeBytes: 7_000, objectKey: `${ownerId}/${id}/thumb.webp` },
    ],
    ...overrides,
  };
}

/** A new record as the repository contract suite makes them, for a post attachment. */
export function newFile(ownerId: string, overrides: Partial<NewFileRecord> = {}): NewFileRecord {
  return newRecord(ownerId, { purpose: "post_attachment", ...overrides });
}

type Method = Exclude<keyof FileRepository, "close">;

export interface FakeRepository extends FileRepository {
  records: Map<string, FileRecord>;
  calls: Record<Method, number>;
  /** Awaited inside findByIds after the rows are read, before they are returned. */
  afterRead?: () => Promise<void>;
  /** The next write throws this, after applying its change (a commit whose answer was lost). */
  failNextWrite?: Error;
  /** Not part of the contract, to check the decorator keeps extra members. */
  extra(): string;
}

/**
 * A FileRepository in memory, with the contract's semantics simplified (no
 * leases, no due times). Returns copies, as a database would.
 */
export function createFakeRepository(): FakeRepository {
  const records = new Map<string, FileRecord>();
  const claims = new Map<string, string>();
  const calls = Object.fromEntries(
    (
      [
        "insertPending", "insertUploaded", "findByIds", "findByContentHash", "markUploaded", "markDeleted",
        "list", "countByStatus", "requestProcessing", "claimProcessing", "completeProcessing", "failProcessing", "ping",
      ] satisfies Method[]
    ).map((m) => [m, 0]),
  ) as Record<Method, number>;
  const copy = (r: FileRecord) => structuredClone(r);
  const owned = (ownerId: string, ids: readonly string[]) =>
    ids.map((id) => records.get(id)).filter((r): r is FileRecord => r !== undefined && r.ownerId === ownerId);

  const repo: FakeRepository = {
    records,
    calls,
    extra() {
      return `extra:${this === repo}`;
    },

    async insertPending(news) {
      calls.insertPending++;
      for (const r of news) {
        records.set(r.id, {
          ...r,
          status: "pending",
          uploadedAt: null,
          deletedAt: null,
          sha256: null,
          width: null,
          height: null,
          blurhash: null,
          processingStatus: "pending",
          processingError: null,
          variants: [],
        });
      }
      write();
    },

    async insertUploaded(r: NewUploadedFile) {
      calls.insertUploaded++;
      const existing = [...records.values()].find(
        (x) => x.ownerId === r.ownerId && x.sha256 === r.sha256 && x.status !== "deleted",
      );
      if (existing !== undefined) return { inserted: false, existing: copy(existing) };
      const { processing, ...rest } = r;
      records.set(r.id, {
        ...rest,
        status: "uploaded",
        deletedAt: null,
        width: null,
        height: null,
        blurhash: null,
        processingStatus: "pending",
        processingError: null,
        variants: [],
      });
      if (processing.claim !== undefined) claims.set(r.id, processing.claim.workerId);
      write();
      return { inserted: true };
    },

    async findByIds(ownerId, ids) {
      calls.findByIds++;
      const found = owned(ownerId, ids).map(copy);
      await repo.afterRead?.();
      return found;
    },

    async findByContentHash(ownerId, sha256) {
      calls.findByContentHash++;
      const r = [...records.values()].find((x) => x.ownerId === ownerId && x.sha256 === sha256 && x.status !== "deleted");
      return r && copy(r);
    },

    async markUploaded(ownerId, ids, at) {
      calls.markUploaded++;
      const moved = owned(ownerId, ids).filter((r) => r.status === "pending");
      for (const r of moved) Object.assign(r, { status: "uploaded", uploadedAt: at });
      write();
      return moved.length;
    },

    async markDeleted(ownerId, ids, at) {
      calls.markDeleted++;
      const moved = owned(ownerId, ids).filter((r) => r.status !== "deleted");
      for (const r of moved) {
        Object.assign(r, { status: "deleted", deletedAt: at });
        if (r.processingStatus === "pending" || r.processingStatus === "processing") r.processingStatus = "cancelled";
      }
      write();
      return moved.length;
    },

    async list(query) {
      calls.list++;
      return [...records.values()]
        .filter((r) => r.ownerId === query.ownerId && query.statuses.includes(r.status))
        .sort((a, b) => (a.id < b.id ? 1 : -1))
        .slice(0, query.limit)
        .map(copy);
    },

    async countByStatus() {
      calls.countByStatus++;
      const counts = { pending: 0, uploaded: 0, deleted: 0 };
      for (const r of records.values()) counts[r.status]++;
      return counts;
    },

    async requestProcessing(ownerId, ids) {
      calls.requestProcessing++;
      const queued = owned(ownerId, ids).filter((r) => r.status === "uploaded");
      for (const r of queued) Object.assign(r, { processingStatus: "pending", processingError: null });
      write();
      return queued.length;
    },

    async claimProcessing({ workerId, limit }) {
      calls.claimProcessing++;
      const jobs: ProcessingJob[] = [];
      for (const r of records.values()) {
        if (jobs.length >= limit) break;
        if (r.status !== "uploaded" || r.processingStatus !== "pending") continue;
        r.processingStatus = "processing";
        claims.set(r.id, workerId);
        jobs.push({
          fileId: r.id,
          ownerId: r.ownerId,
          objectKey: r.objectKey,
          contentType: r.contentType,
          purpose: r.purpose,
          webpQuality: null,
          attempts: 1,
        });
      }
      write();
      return jobs;
    },

    async completeProcessing(fileId, workerId, result) {
      calls.completeProcessing++;
      const r = records.get(fileId);
      if (r === undefined || claims.get(fileId) !== workerId || r.status === "deleted") return write(false);
      Object.assign(r, { ...structuredClone(result), processingStatus: "completed", processingError: null });
      claims.delete(fileId);
      return write(true);
    },

    async failProcessing(fileId, workerId, error, retryAt) {
      calls.failProcessing++;
      const r = records.get(fileId);
      if (r === undefined || claims.get(fileId) !== workerId) return write(false);
      Object.assign(r, retryAt === null ? { processingStatus: "failed", processingError: error } : { processingStatus: "pending" });
      claims.delete(fileId);
      return write(true);
    },

    async ping() {
      calls.ping++;
    },
    async close() {},
  };

  function write<T>(result?: T): T {
    const failure = repo.failNextWrite;
    if (failure !== undefined) {
      repo.failNextWrite = undefined;
      throw failure;
    }
    return result as T;
  }

  return repo;
}

/** Resolves when `check` does, polling; rejects after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
