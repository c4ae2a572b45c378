// Reconciliation: what no task can know about (objects written by hand, a
// bucket restored from backup, a row restored without its bytes). Two passes,
// each a page at a time so neither the bucket nor the table is ever held whole:
// - the bucket's served space (files/): an object older than `minAgeMs` whose
//   file has no row, or whose file is deleted or expired, is an orphan
//   (removed with `apply`);
// - the uploaded files: one whose original is gone from the store is missing
//   (marked `missing` with `apply`, which publishes the change).
// A dry run (no `apply`) changes nothing and reports the same findings.
import type { FileRepository } from "../domain/file-repository.js";
import type { FileStatus } from "../domain/file.js";
import type { ListedObject, ObjectStore } from "../storage/object-store.js";

/** The prefix of the served space; quarantined bytes live apart, under quarantine/. */
const SERVED_PREFIX = "files/";
const FILE_KEY = /^files\/([^/]+)\/[^/]+$/;
// Statuses whose bytes should be gone: their objects are orphans too.
const UNWANTED = new Set<FileStatus>(["deleted", "expired"]);
// HEAD requests in flight while checking a page of files.
const HEAD_CONCURRENCY = 8;

export type ReconcileFinding =
  | {
      finding: "orphan_object";
      key: string;
      size: number;
      lastModified: string;
      /** The file the key names, if it names one; its status, when it has a row. */
      file: string | null;
      fileStatus: FileStatus | null;
      action: "would remove" | "removed" | "not removed";
    }
  | { finding: "missing_object"; file: string; owner: string; key: string; action: "would mark missing" | "marked missing" | "changed meanwhile" };

export interface ReconcileOptions {
  apply: boolean;
  /** Objects younger than this are left alone (an upload may be landing). */
  minAgeMs: number;
  pageSize: number;
  now?: Date;
  onFinding(finding: ReconcileFinding): void;
}

export interface ReconcileDeps {
  files: Pick<FileRepository, "statusesOf" | "pageByStatus" | "markMissing">;
  objects: Pick<ObjectStore, "list" | "head" | "delete">;
}

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<{ orphans: number; missing: number }> {
  const now = options.now ?? new Date();
  const orphans = await findOrphans(deps, options, now.getTime() - options.minAgeMs);
  const missing = await findMissing(deps, options, now);
  return { orphans, missing };
}

async function findOrphans({ files, objects }: ReconcileDeps, options: ReconcileOptions, cutoff: number): Promise<number> {
  let found = 0;
  let cursor: string | undefined;
  do {
    const page = await objects.list({ prefix: SERVED_PREFIX, cursor, limit: options.pageSize });
    cursor = page.cursor;
    const old = page.objects.filter((o) => o.lastModified.getTime() <= cutoff);
    const fileOf = (o: ListedObject) => FILE_KEY.exec(o.key)?.[1] ?? null;
    const statuses = await files.statusesOf([...new Set(old.map(fileOf).filter((id): id is string => id !== null))]);
    const strays = old.filter((o) => {
      const id = fileOf(o);
      const status = id === null ? undefined : statuses.get(id);
      return status === undefined || UNWANTED.has(status);
    });
    if (strays.length === 0) continue;
    const notRemoved = new Set(options.apply ? await objects.delete(strays.map((o) => o.key)) : []);
    for (const o of strays) {
      const id = fileOf(o);
      options.onFinding({
        finding: "orphan_object",
        key: o.key,
        size: o.size,
        lastModified: o.lastModified.toISOString(),
        file: id,
        fileStatus: (id !== null && statuses.get(id)) || null,
        action: !options.apply ? "would remove" : notRemoved.has(o.key) ? "not removed" : "removed",
      });
    }
    found += strays.length;
  } while (cursor !== undefined);
  return found;
}

async function findMissing({ files, objects }: ReconcileDeps, options: ReconcileOptions, now: Date): Promise<number> {
  let found = 0;
  let beforeId: string | undefined;
  for (;;) {
    const page = await files.pageByStatus({ status: "uploaded", beforeId, limit: options.pageSize });
    if (page.length === 0) return found;
    beforeId = page.at(-1)!.id;
    const gone = (await mapBounded(page, HEAD_CONCURRENCY, async (f) => ((await objects.head(f.objectKey)) === null ? f : null))).filter(
      (f) => f !== null,
    );
    if (gone.length === 0) continue;
    // Marked only while still uploaded: a file deleted meanwhile is not missing.
    const marked = new Set(options.apply ? await files.markMissing(gone.map((f) => f.id), now) : []);
    for (const f of gone) {
      const action = !options.apply ? "would mark missing" : marked.has(f.id) ? "marked missing" : "changed meanwhile";
      options.onFinding({ finding: "missing_object", file: f.id, owner: f.ownerId, key: f.objectKey, action });
    }
    found += gone.length;
  }
}

/** `map` over `items` with at most `limit` calls in flight, results in order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await map(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
