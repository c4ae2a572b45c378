// A FileRepository in memory with the contract's semantics (the repository
// contract suite runs against it too: test/db/fake-file-repository.test.ts):
// owner scoping, the dedup key, the processing queue with due times, leases
// and attempts. For domain tests that must not need a database, and for the
// cache tests, it also counts calls, can pause a read, and can fail a write
// after applying it (a commit whose answer was lost).
import type { FileRecord, FileStatus, NewFileRecord, NewUploadedFile, ProcessingJob, ProcessingRequest, ScanResult, Idempotency } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { FILE_STATUSES } from "../../src/domain/file.js";
import { DependencyUnavailableError, FileError, IdempotencyConflictError } from "../../src/domain/errors.js";
import { unprocessed } from "./records.js";
import { createFakeTasks, fakeTaskQueue, queueFor, type FakeTasks } from "./fake-task-queue.js";

/** The `code` a duplicate id fails with, as a driver's duplicate-key error carries one. */
export const FAKE_DUPLICATE_KEY = "FAKE_DUPLICATE_KEY";

type Method = Exclude<keyof FileRepository, "close">;

export interface FakeRepository extends FileRepository {
  records: Map<string, FileRecord>;
  calls: Record<Method, number>;
  /** Awaited inside findByIds after the rows are read, before they are returned. */
  afterRead?: () => Promise<void>;
  /** The next write throws this, after applying its change (a commit whose answer was lost). */
  failNextWrite?: Error;
  /** Every call fails as an unreachable database's would. */
  unreachable: boolean;
  /** Not part of the contract, to check decorators keep extra members. */
  extra(): string;
}

/** The queue's columns, beside each record (what the SQL schemas keep in `files`). */
interface Queue {
  dedupSha256: string | null;
  attempts: number;
  dueAt: Date | null;
  lockedBy: string | null;
  lockedUntil: Date | null;
  webpQuality: number | null;
  expireDueAt?: Date | null;
  idempotency?: Idempotency;
}

/** Shared by every repository opened on one fake "database" (see `another`). */
export interface FakeDatabase {
  records: Map<string, FileRecord>;
  queue: Map<string, Queue>;
  tasks: FakeTasks;
}

export function createFakeDatabase(): FakeDatabase {
  return { records: new Map(), queue: new Map(), tasks: createFakeTasks() };
}

const METHODS = [
  "insertPending", "insertUploaded", "findByIds", "findByContentHash", "markUploaded", "markDeleted",
  "list", "countByStatus", "requestProcessing", "claimProcessing", "completeProcessing", "failProcessing", "ping",
  "requeueUnqueued", "expireDue", "storedObjects", "claimTasks", "completeTask", "failTask", "enqueueTasks", "listTasks",
  "requeueTasks", "taskStats", "recordScan", "quarantine", "fulfilIntent", "abandonIntent", "findByIdempotencyKey",
  "releaseIdempotencyKey", "statusesOf", "pageByStatus", "markMissing",
] as const satisfies readonly Method[];

const MAX_ERROR_LENGTH = 1000;

export function createFakeRepository(db: FakeDatabase = createFakeDatabase()): FakeRepository {
  const { records, queue, tasks } = db;
  const calls = Object.fromEntries(METHODS.map((m) => [m, 0])) as Record<Method, number>;
  const copy = (r: FileRecord) => structuredClone(r);
  const owned = (ownerId: string, ids: readonly string[]) =>
    [...new Set(ids)].map((id) => records.get(id)).filter((r): r is FileRecord => r !== undefined && r.ownerId === ownerId);
  /** The queue columns of a record; a test may have put the record in `records` itself, without them. */
  const q = (id: string): Queue => {
    let queued = queue.get(id);
    if (queued === undefined) {
      const r = records.get(id)!;
      const live = r.status !== "deleted";
      queued = {
        dedupSha256: live ? r.sha256 : null,
        attempts: 0,
        // Pending processing of an uploaded file is due (as if queued long ago).
        dueAt: live && r.status === "uploaded" && r.processingStatus === "pending" ? new Date(0) : null,
        lockedBy: null,
        lockedUntil: null,
        webpQuality: null,
      };
      queue.set(id, queued);
    }
    return queued;
  };
  const holderOf = (ownerId: string, sha256: string) =>
    [...records.values()].find((r) => r.ownerId === ownerId && q(r.id).dedupSha256 === sha256);

  /**
   * Every call goes through here: counted, and refused while unreachable,
   * unless it has nothing to do (`idle`): then, as a database repository, it
   * answers without a query.
   */
  async function call<T>(method: Method, operation: () => T | Promise<T>, idle?: { when: boolean; answer: T }): Promise<T> {
    calls[method]++;
    if (idle?.when) return idle.answer;
    if (repo.unreachable) throw new DependencyUnavailableError("database", new Error("the fake database is unreachable"));
    return operation();
  }

  function write<T>(result: T): T {
    const failure = repo.failNextWrite;
    if (failure !== undefined) {
      repo.failNextWrite = undefined;
      throw failure;
    }
    return result;
  }

  function insert(record: FileRecord, queued: Queue): void {
    records.set(record.id, record);
    queue.set(record.id, queued);
  }

  function assertNewIds(ids: readonly string[]): void {
    const seen = new Set<string>();
    for (const id of ids) {
      if (records.has(id) || seen.has(id)) {
        throw Object.assign(new Error(`duplicate key: file ${id} exists`), { code: FAKE_DUPLICATE_KEY });
      }
      seen.add(id);
    }
  }

  function queuedValues(request: ProcessingRequest, at: Date): { status: "pending" | "processing"; queue: Omit<Queue, "dedupSha256"> } {
    const { claim } = request;
    return {
      status: claim ? "processing" : "pending",
      queue: {
        attempts: claim ? 1 : 0,
        dueAt: at,
        lockedBy: claim?.workerId ?? null,
        lockedUntil: claim ? new Date(at.getTime() + claim.leaseMs) : null,
        webpQuality: request.webpQuality,
      },
    };
  }

  const repo: FakeRepository = {
    records,
    calls,
    unreachable: false,
    extra() {
      return `extra:${this === repo}`;
    },

    insertPending: (news: readonly NewFileRecord[]) =>
      call("insertPending", () => {
        assertNewIds(news.map((r) => r.id));
        for (const r of news) {
          const i = r.idempotency;
          if (i && [...records.values()].some((o) => o.ownerId === r.ownerId && q(o.id).idempotency?.key === i.key && q(o.id).idempotency?.seq === i.seq)) {
            throw new IdempotencyConflictError("another call with this idempotency key inserted first");
          }
        }
        for (const r of news) {
          insert(
            {
              ...structuredClone(stripExtras(r)),
              status: "pending",
              uploadedAt: null,
              deletedAt: null,
              ...unprocessed,
              uploadExpiresAt: r.uploadExpiresAt ?? null,
              variants: [],
            },
            { dedupSha256: null, attempts: 0, dueAt: null, lockedBy: null, lockedUntil: null, webpQuality: null, expireDueAt: r.expireDueAt ?? null, idempotency: r.idempotency },
          );
        }
        write(undefined);
      }, { when: news.length === 0, answer: undefined }),

    insertUploaded: ({ sha256, uploadedAt, processing, scan, ...record }: NewUploadedFile) =>
      call("insertUploaded", () => {
        if (scan?.status === "infected") {
          assertNewIds([record.id]);
          insert(
            {
              ...structuredClone(stripExtras(record)),
              status: "quarantined",
              uploadedAt,
              deletedAt: null,
              ...unprocessed,
              sha256,
              processingStatus: "cancelled",
              ...scanFields(scan),
              variants: [],
            },
            { dedupSha256: null, attempts: 0, dueAt: null, lockedBy: null, lockedUntil: null, webpQuality: null },
          );
          queueFor(tasks, records.get(record.id)!, [{ kind: "quarantine" }, { kind: "publish", type: "quarantined" }], uploadedAt);
          return write({ inserted: true as const });
        }
        const holder = holderOf(record.ownerId, sha256);
        if (holder !== undefined) return { inserted: false as const, existing: copy(holder) };
        assertNewIds([record.id]);
        const queued = queuedValues(processing, uploadedAt);
        insert(
          {
            ...structuredClone(stripExtras(record)),
            status: "uploaded",
            uploadedAt,
            deletedAt: null,
            sha256,
            width: null,
            height: null,
            blurhash: null,
            processingStatus: queued.status,
            processingError: null,
            scanStatus: "not_scanned",
            scanSignature: null,
            scanError: null,
            scannedAt: null,
            ...(scan ? scanFields(scan) : {}),
            uploadExpiresAt: null,
            variants: [],
          },
          { ...queued.queue, dedupSha256: sha256, idempotency: record.idempotency },
        );
        queueFor(tasks, records.get(record.id)!, [{ kind: "publish", type: "uploaded" }], uploadedAt);
        return write({ inserted: true as const });
      }),

    fulfilIntent: (file) =>
      call("fulfilIntent", () => {
        const r = records.get(file.id);
        if (r === undefined || r.ownerId !== file.ownerId || r.status !== "pending") {
          throw new FileError("failed_precondition", `file ${file.id} expired before its upload finished: upload it again`);
        }
        const holder = file.scan?.status === "infected" ? undefined : holderOf(file.ownerId, file.sha256);
        if (holder !== undefined) return { inserted: false as const, existing: copy(holder) };
        // As the SQL repositories' UPDATE: the pending row becomes the uploaded file.
        records.delete(file.id);
        queue.delete(file.id);
        return repo.insertUploaded(file);
      }),

    findByIdempotencyKey: (ownerId, key) =>
      call("findByIdempotencyKey", () =>
        [...records.values()]
          .filter((r) => r.ownerId === ownerId && q(r.id).idempotency?.key === key)
          .map((r) => ({ id: r.id, seq: q(r.id).idempotency!.seq, fingerprint: q(r.id).idempotency!.fingerprint, createdAt: r.createdAt }))
          .sort((a, b) => a.seq - b.seq),
      ),

    releaseIdempotencyKey: (ownerId, key, before) =>
      call("releaseIdempotencyKey", () => {
        let n = 0;
        for (const r of records.values()) {
          if (r.ownerId === ownerId && q(r.id).idempotency?.key === key && r.createdAt < before) {
            q(r.id).idempotency = undefined;
            n++;
          }
        }
        return write(n);
      }),

    abandonIntent: (ownerId, id, objectsGone, purgeAt) =>
      call("abandonIntent", () => {
        const r = records.get(id);
        if (r?.ownerId !== ownerId || r.status !== "pending") return;
        if (objectsGone) {
          records.delete(id);
          queue.delete(id);
          return;
        }
        r.status = "expired";
        q(id).expireDueAt = null;
        queueFor(tasks, r, [{ kind: "purge" }], purgeAt ?? new Date());
      }),

    findByIds: (ownerId, ids) =>
      call("findByIds", async () => {
        const found = owned(ownerId, ids).map(copy);
        await repo.afterRead?.();
        return found;
      }, { when: ids.length === 0, answer: [] }),

    findByContentHash: (ownerId, sha256) =>
      call("findByContentHash", () => {
        const holder = holderOf(ownerId, sha256);
        return holder && copy(holder);
      }),

    markUploaded: (ownerId, ids, at, options) =>
      call("markUploaded", () => {
        const moved = owned(ownerId, ids).filter((r) => r.status === "pending");
        const values = queuedValues({ webpQuality: null }, at);
        for (const r of moved) {
          Object.assign(r, { status: "uploaded", uploadedAt: at, processingStatus: values.status, processingError: null });
          if (options?.scan) r.scanStatus = "pending";
          Object.assign(q(r.id), values.queue, { expireDueAt: null });
          queueFor(tasks, r, [{ kind: "publish", type: "uploaded" }], at);
        }
        return write(moved.length);
      }, { when: ids.length === 0, answer: 0 }),

    markDeleted: (ownerId, ids, at) =>
      call("markDeleted", () => {
        const moved = owned(ownerId, ids).filter((r) => r.status !== "deleted");
        for (const r of moved) {
          Object.assign(r, { status: "deleted", deletedAt: at });
          if (r.processingStatus === "pending" || r.processingStatus === "processing") r.processingStatus = "cancelled";
          Object.assign(q(r.id), { dedupSha256: null, dueAt: null, lockedBy: null, lockedUntil: null, expireDueAt: null });
          queueFor(tasks, r, [{ kind: "purge" }, { kind: "publish", type: "deleted" }], at);
        }
        return write(moved.length);
      }, { when: ids.length === 0, answer: 0 }),

    requeueUnqueued: (ownerId, ids, at) =>
      call("requeueUnqueued", () => {
        const queued = owned(ownerId, ids).filter((r) => r.status === "uploaded" && r.processingStatus === "pending" && q(r.id).dueAt === null);
        for (const r of queued) q(r.id).dueAt = at;
        return write(queued.length);
      }, { when: ids.length === 0, answer: 0 }),

    expireDue: (now, limit) =>
      call("expireDue", () => {
        const due = [...records.values()]
          .filter((r) => r.status === "pending" && q(r.id).expireDueAt != null && q(r.id).expireDueAt! <= now)
          .sort((a, b) => q(a.id).expireDueAt!.getTime() - q(b.id).expireDueAt!.getTime() || (a.id < b.id ? -1 : 1))
          .slice(0, Math.max(0, limit));
        for (const r of due) {
          Object.assign(r, { status: "expired", processingStatus: "cancelled" });
          Object.assign(q(r.id), { expireDueAt: null, dueAt: null });
          queueFor(tasks, r, [{ kind: "purge" }, { kind: "publish", type: "expired" }], now);
        }
        return write(due.map((r) => r.id));
      }, { when: limit < 1, answer: [] }),

    storedObjects: (fileId) =>
      call("storedObjects", () => {
        const r = records.get(fileId);
        return r && { status: r.status, keys: [r.objectKey, ...r.variants.map((v) => v.objectKey)] };
      }),

    ...fakeTaskQueue(tasks, (name, op) => call(name, op)),

    recordScan: (fileId, workerId, result) =>
      call("recordScan", () => {
        const r = records.get(fileId);
        if (r === undefined || !heldBy(r, workerId)) return write(false);
        Object.assign(r, scanFields(result));
        if (result.status === "clean") q(fileId).attempts = 1;
        return write(true);
      }),

    quarantine: (fileId, workerId, result) =>
      call("quarantine", () => {
        const r = records.get(fileId);
        if (r === undefined || !heldBy(r, workerId)) return write(false);
        Object.assign(r, scanFields(result), {
          status: "quarantined",
          processingStatus: "cancelled",
          processingError: `quarantined: the malware scan found ${result.signature}`,
        });
        Object.assign(q(fileId), { dedupSha256: null, dueAt: null, lockedBy: null, lockedUntil: null });
        queueFor(tasks, r, [{ kind: "quarantine" }, { kind: "publish", type: "quarantined" }], result.at);
        return write(true);
      }),

    list: (query) =>
      call("list", () =>
        [...records.values()]
          .filter(
            (r) =>
              r.ownerId === query.ownerId &&
              query.statuses.includes(r.status) &&
              (query.beforeId === undefined || r.id < query.beforeId),
          )
          .sort((a, b) => (a.id < b.id ? 1 : -1))
          .slice(0, Math.max(0, query.limit))
          .map(copy),
      ),

    statusesOf: (ids) => call("statusesOf", () => new Map(ids.flatMap((id) => (records.has(id) ? [[id, records.get(id)!.status] as const] : [])))),

    pageByStatus: ({ status, beforeId, limit }) =>
      call("pageByStatus", () =>
        [...records.values()]
          .filter((r) => r.status === status && (beforeId === undefined || r.id < beforeId))
          .sort((a, b) => (a.id < b.id ? 1 : -1))
          .slice(0, Math.max(0, limit))
          .map(copy),
      ),

    markMissing: (ids, at) =>
      call("markMissing", () => {
        const moved = [...new Set(ids)].map((id) => records.get(id)).filter((r): r is FileRecord => r?.status === "uploaded");
        for (const r of moved) {
          r.status = "missing";
          if (r.processingStatus === "pending" || r.processingStatus === "processing") r.processingStatus = "cancelled";
          Object.assign(q(r.id), { dedupSha256: null, dueAt: null, lockedBy: null, lockedUntil: null });
          queueFor(tasks, r, [{ kind: "publish", type: "missing" }], at);
        }
        return write(moved.map((r) => r.id));
      }, { when: ids.length === 0, answer: [] }),

    countByStatus: () =>
      call("countByStatus", () => {
        const counts = Object.fromEntries(FILE_STATUSES.map((s) => [s, 0])) as Record<FileStatus, number>;
        for (const r of records.values()) counts[r.status]++;
        return counts;
      }),

    requestProcessing: (ownerId, ids, request, at) =>
      call("requestProcessing", () => {
        const queued = owned(ownerId, ids).filter((r) => r.status === "uploaded");
        const values = queuedValues(request, at);
        for (const r of queued) {
          Object.assign(r, { processingStatus: values.status, processingError: null });
          Object.assign(q(r.id), values.queue);
        }
        return write(queued.length);
      }, { when: ids.length === 0, answer: 0 }),

    claimProcessing: ({ workerId, leaseMs, limit, now }) =>
      call("claimProcessing", () => {
        const due = (r: FileRecord) =>
          r.status === "uploaded" &&
          ((r.processingStatus === "pending" && q(r.id).dueAt !== null && q(r.id).dueAt! <= now) ||
            (r.processingStatus === "processing" && q(r.id).lockedUntil !== null && q(r.id).lockedUntil! < now));
        const when = (r: FileRecord) => (r.processingStatus === "pending" ? q(r.id).dueAt! : q(r.id).lockedUntil!).getTime();
        const claimed = [...records.values()].filter(due).sort((a, b) => when(a) - when(b)).slice(0, limit);
        const jobs: ProcessingJob[] = claimed.map((r) => {
          const queued = q(r.id);
          r.processingStatus = "processing";
          Object.assign(queued, { attempts: queued.attempts + 1, lockedBy: workerId, lockedUntil: new Date(now.getTime() + leaseMs) });
          return {
            fileId: r.id,
            ownerId: r.ownerId,
            objectKey: r.objectKey,
            contentType: r.contentType,
            purpose: r.purpose,
            webpQuality: queued.webpQuality,
            attempts: queued.attempts,
            sizeBytes: r.sizeBytes,
            scanStatus: r.scanStatus,
          };
        });
        return write(jobs);
      }, { when: limit < 1, answer: [] }),

    completeProcessing: (fileId, workerId, result) =>
      call("completeProcessing", () => {
        const r = records.get(fileId);
        if (r === undefined || !heldBy(r, workerId)) return write(false);
        const { variants, ...rest } = structuredClone(result);
        Object.assign(r, rest, {
          variants: [...variants].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
          processingStatus: "completed",
          processingError: null,
        });
        const holder = holderOf(r.ownerId, result.sha256);
        Object.assign(q(fileId), {
          dedupSha256: holder === undefined || holder.id === fileId ? result.sha256 : null,
          dueAt: null,
          lockedBy: null,
          lockedUntil: null,
        });
        queueFor(tasks, r, [{ kind: "publish", type: "processed" }], new Date());
        return write(true);
      }),

    failProcessing: (fileId, workerId, error, retryAt) =>
      call("failProcessing", () => {
        const r = records.get(fileId);
        if (r === undefined || !heldBy(r, workerId)) return write(false);
        const codePoints = [...error];
        Object.assign(r, {
          processingStatus: retryAt === null ? "failed" : "pending",
          processingError: codePoints.length > MAX_ERROR_LENGTH ? codePoints.slice(0, MAX_ERROR_LENGTH).join("") : error,
        });
        Object.assign(q(fileId), { dueAt: retryAt, lockedBy: null, lockedUntil: null });
        if (retryAt === null) queueFor(tasks, r, [{ kind: "publish", type: "processing_failed" }], new Date());
        return write(true);
      }),

    ping: () => call("ping", () => undefined),
    async close() {},
  };

  function scanFields(scan: ScanResult) {
    return {
      scanStatus: scan.status,
      scanSignature: scan.status === "infected" ? scan.signature : null,
      scanError: scan.status === "error" ? scan.reason : null,
      scannedAt: scan.at,
    } as const;
  }

  /** A new record without what the SQL schemas keep outside FileRecord. */
  function stripExtras(r: NewFileRecord) {
    const { expireDueAt: _due, idempotency: _key, ...rest } = r;
    return rest;
  }

  function heldBy(r: FileRecord, workerId: string): boolean {
    return r.status !== "deleted" && r.processingStatus === "processing" && q(r.id).lockedBy === workerId;
  }

  return repo;
}
