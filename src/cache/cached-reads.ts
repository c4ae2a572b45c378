// The read cache wired around a FileRepository:
//
// - cachedFileReads: findByIds through the cache (GetFile, BatchGetFiles).
//   Only those reads: decisions that change data (confirm, delete) keep
//   reading the database itself.
// - invalidatingRepository: a FileRepository whose every write invalidates the
//   ids it touches. Every writer of the table must go through it (the RPCs and
//   the processing worker alike), or the cache can serve a stale record for up
//   to its TTL.
//
// How a reader and a writer racing on the same id stay correct (the
// generation check), and what happens when Redis is down, is explained in
// file-cache.ts.
import type { FileRecord } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import type { FileCache } from "./file-cache.js";
import { wrapMethods } from "../shared/wrap-methods.js";

export interface CachedFileReads {
  /** As FileRepository.findByIds: the owner's records among `ids`, in no particular order. */
  findByIds(ownerId: string, ids: readonly string[]): Promise<FileRecord[]>;
}

/**
 * Read-through: cached records are served without touching the database; the
 * misses are read from `repo` and then cached. Redis failing only means misses.
 */
export function cachedFileReads(repo: Pick<FileRepository, "findByIds">, cache: FileCache): CachedFileReads {
  return {
    async findByIds(ownerId, ids) {
      const unique = [...new Set(ids)];
      if (unique.length === 0) return [];
      const lookup = await cache.getMany(unique);
      const found: FileRecord[] = [];
      const missed: string[] = [];
      for (const id of unique) {
        const cached = lookup.hits.get(id);
        if (cached === undefined) missed.push(id);
        else if (cached.ownerId === ownerId) found.push(cached);
        // else: another owner's file, which the repository would not return
        // either: not found. (A file's owner never changes, so the database
        // need not be asked.)
      }
      if (missed.length === 0) return found;
      const loaded = await repo.findByIds(ownerId, missed);
      // Awaited (it never rejects, and is bounded by the command timeout) so
      // the fill is done when the RPC answers; it costs one round trip per miss.
      await cache.setMany(loaded, lookup);
      return [...found, ...loaded];
    },
  };
}

type Invalidated<K extends keyof FileRepository> = FileRepository[K] extends (...args: infer A) => Promise<infer R>
  ? (args: A, result: R | undefined) => readonly string[]
  : never;

// Every contract method but ping and close: a method added to FileRepository
// fails to compile here until it is declared a read or says which ids it changes.
// `result` is undefined when the write threw.
const WRITES: { [K in Exclude<keyof FileRepository, "ping" | "close">]: Invalidated<K> | "read" } = {
  insertPending: ([records]) => records.map((record) => record.id),
  insertUploaded: ([record]) => [record.id],
  findByIds: "read",
  findByContentHash: "read",
  markUploaded: ([, ids]) => ids,
  markDeleted: ([, ids]) => ids,
  list: "read",
  countByStatus: "read",
  requestProcessing: ([, ids]) => ids,
  // A claim changes the jobs' processing status (and attempts).
  claimProcessing: (_args, jobs) => jobs?.map((job) => job.fileId) ?? [],
  completeProcessing: ([fileId]) => [fileId],
  failProcessing: ([fileId]) => [fileId],
  requeueUnqueued: ([, ids]) => ids,
  fulfilIntent: ([record]) => [record.id],
  abandonIntent: ([, id]) => [id],
  findByIdempotencyKey: "read",
  releaseIdempotencyKey: "read",
  recordScan: ([fileId]) => [fileId],
  quarantine: ([fileId]) => [fileId],
  expireDue: (_args, ids) => ids ?? [],
  storedObjects: "read",
  statusesOf: "read",
  pageByStatus: "read",
  markMissing: (_args, ids) => ids ?? [],
  // The task queue holds no cached records.
  claimTasks: "read",
  completeTask: "read",
  failTask: "read",
  enqueueTasks: "read",
  listTasks: "read",
  requeueTasks: "read",
  taskStats: "read",
};

/**
 * `repo`, but every write invalidates the cached records of the ids it may have
 * changed once it is done. Also when it threw: a failed call may still have
 * committed (e.g. the connection dropped after COMMIT), and an extra miss is
 * cheap. (A claim that threw names no ids; the claimed jobs' cached records
 * then show the previous processing status until the job ends.)
 * Invalidation never fails the write (see FileCache.invalidate).
 *
 * Wrapped with wrapMethods, as in observability/instrument.ts: an
 * implementation's extra members stay reachable and methods run on the original object.
 */
export function invalidatingRepository<R extends FileRepository>(repo: R, cache: FileCache): R {
  return wrapMethods(repo, (name, original) => {
    const affected = Object.hasOwn(WRITES, name) ? WRITES[name as keyof typeof WRITES] : "read";
    if (affected === "read") return original.bind(repo);
    const idsOf = affected as (args: unknown[], result: unknown) => readonly string[];
    return async (...args: unknown[]) => {
      let result: unknown;
      try {
        result = await original.apply(repo, args);
        return result;
      } finally {
        let ids: readonly string[] = [];
        try {
          ids = idsOf(args, result);
        } catch {
          // Arguments the write itself rejected: it changed nothing.
        }
        // Never rejects by contract; a cache that breaks it still must not fail the write.
        if (ids.length > 0) await cache.invalidate(ids).catch(() => undefined);
      }
    };
  });
}
