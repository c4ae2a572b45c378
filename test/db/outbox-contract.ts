// The outbox part of the repository contract (domain/task-queue.ts and the
// tasks the state changes queue), run by describeFileRepository on MySQL,
// SQLite and the fake alike.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { IdempotencyConflictError } from "../../src/domain/errors.js";
import { TASK_KINDS, type NewTask, type PublishPayload, type Task } from "../../src/domain/task.js";
import { newOwner, newRecord, newResult, newUploaded, sha256Of } from "../support/records.js";
import type { FileRepositoryContract, OpenedRepository } from "./file-repository-contract.js";

const t0 = new Date("2025-06-01T12:00:00.000Z");
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);
const lease = 60_000;
const ALL = TASK_KINDS;

const summary = (tasks: readonly Task[]) =>
  tasks
    .map((t) => `${t.kind}:${t.kind === "publish" ? (JSON.parse(t.payload!) as PublishPayload).type : "-"}:${t.fileId}`)
    .sort();

export function describeOutbox(contract: FileRepositoryContract): void {
  describe("the outbox", () => {
    let opened: OpenedRepository;
    let q: FileRepository;
    const claimAll = (workerId: string, now = plus(new Date(), 1000), limit = 100) =>
      q.claimTasks({ workerId, leaseMs: lease, limit, now, kinds: ALL });

    beforeEach(async () => {
      opened = await contract.open();
      q = opened.repo;
    });
    afterEach(async () => {
      await opened?.close();
    });

    it("marks only uploaded files missing, publishing it with the change, once", async () => {
      const owner = newOwner();
      const [pending, deleted] = [newRecord(owner), newRecord(owner)];
      const uploaded = newUploaded(owner);
      await q.insertPending([pending, deleted]);
      await q.insertUploaded(uploaded);
      await q.markUploaded(owner, [deleted.id], t0);
      await q.markDeleted(owner, [deleted.id], t0);
      // Done with what came before (a file's events run in order: claim until none is left).
      for (let tasks = await claimAll("w"); tasks.length > 0; tasks = await claimAll("w")) {
        for (const t of tasks) await q.completeTask(t.id, "w");
      }

      expect(await q.markMissing([pending.id, uploaded.id, deleted.id], t0)).toEqual([uploaded.id]);
      expect(await q.markMissing([uploaded.id], t0)).toEqual([]);
      expect(summary(await claimAll("w"))).toEqual([`publish:missing:${uploaded.id}`]);
      const [record] = await q.findByIds(owner, [uploaded.id]);
      expect(record).toMatchObject({ status: "missing", processingStatus: "cancelled" });
      // Its hash is free: the same bytes uploaded again make a new file.
      expect(await q.findByContentHash(owner, uploaded.sha256)).toBeUndefined();
    });

    it("queues each state change's tasks with it, once, whoever repeats it", async () => {
      const owner = newOwner();
      const [a, b] = [newRecord(owner), newRecord(owner)];
      await q.insertPending([a, b]);
      expect(await claimAll("w")).toEqual([]); // a pending row publishes nothing yet
      expect(await q.markUploaded(owner, [a.id], t0)).toBe(1);
      expect(await q.markUploaded(owner, [a.id], t0)).toBe(0);
      expect(await q.markDeleted(owner, [a.id, b.id], t0)).toBe(2);
      expect(await q.markDeleted(owner, [a.id, b.id], t0)).toBe(0);
      const tasks = await claimAll("w");
      expect(summary(tasks)).toEqual(
        [`publish:uploaded:${a.id}`, `purge:-:${a.id}`, `purge:-:${b.id}`, `publish:deleted:${b.id}`].sort(),
      );
      // a's deleted event waits behind its uploaded one (same order key).
      const publishA = tasks.find((t) => t.kind === "publish" && t.fileId === a.id)!;
      const payload = JSON.parse(publishA.payload!) as PublishPayload;
      expect(payload).toMatchObject({ type: "uploaded", occurredAt: t0.getTime() });
      expect(payload.eventId).toMatch(/^[0-9a-f-]{32,36}$/);
      expect(publishA).toMatchObject({ ownerId: owner, orderKey: `publish:${a.id}`, attempts: 1, status: "running" });
      expect(await q.completeTask(publishA.id, "w")).toBe(true);
      expect(summary(await claimAll("w"))).toEqual([`publish:deleted:${a.id}`]);
    });

    it("publishes an upload through the service, a processed file and a failure for good", async () => {
      const owner = newOwner();
      const worker = { workerId: "p", leaseMs: lease };
      const done = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: worker } });
      const broken = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: worker } });
      await q.insertUploaded(done);
      await q.insertUploaded(broken);
      // A duplicate upload inserts nothing, and publishes nothing.
      expect((await q.insertUploaded(newUploaded(owner, { sha256: done.sha256 }))).inserted).toBe(false);
      expect(await q.completeProcessing(done.id, "p", newResult(done.id, done.sha256, []))).toBe(true);
      expect(await q.failProcessing(broken.id, "p", "try again", plus(t0, 1))).toBe(true); // a retry is no event
      const [job] = await q.claimProcessing({ workerId: "p", leaseMs: lease, limit: 1, now: plus(t0, 2) });
      expect(job?.fileId).toBe(broken.id);
      expect(await q.failProcessing(broken.id, "p", "not an image", null)).toBe(true);
      const first = await claimAll("w");
      expect(summary(first)).toEqual([`publish:uploaded:${done.id}`, `publish:uploaded:${broken.id}`].sort());
      for (const t of first) await q.completeTask(t.id, "w");
      expect(summary(await claimAll("w"))).toEqual(
        [`publish:processed:${done.id}`, `publish:processing_failed:${broken.id}`].sort(),
      );
    });

    it("expires pending files once they are due, once, with their purge; never before", async () => {
      const owner = newOwner();
      const due = newRecord(owner, { uploadExpiresAt: t0, expireDueAt: plus(t0, 1000) });
      const later = newRecord(owner, { uploadExpiresAt: t0, expireDueAt: plus(t0, 60_000) });
      const confirmed = newRecord(owner, { uploadExpiresAt: t0, expireDueAt: plus(t0, 1000) });
      await q.insertPending([due, later, confirmed]);
      await q.markUploaded(owner, [confirmed.id], t0);
      expect(await q.expireDue(plus(t0, 999), 10)).toEqual([]);
      const other = await opened.another();
      try {
        const [mine, theirs] = await Promise.all([q.expireDue(plus(t0, 1000), 10), other.expireDue(plus(t0, 1000), 10)]);
        expect([...mine, ...theirs]).toEqual([due.id]);
      } finally {
        await other.close();
      }
      const [expired] = await q.findByIds(owner, [due.id]);
      expect(expired).toMatchObject({ status: "expired", uploadExpiresAt: t0 });
      expect((await q.findByIds(owner, [later.id]))[0]?.status).toBe("pending");
      const tasks = await claimAll("w");
      expect(summary(tasks.filter((t) => t.fileId === due.id))).toEqual([`publish:expired:${due.id}`, `purge:-:${due.id}`].sort());
      expect(await q.storedObjects(due.id)).toEqual({ status: "expired", keys: [due.objectKey] });
      expect(await q.expireDue(plus(t0, 120_000), 0)).toEqual([]);
      expect(await q.expireDue(plus(t0, 120_000), 10)).toEqual([later.id]);
    });

    it("records scans by the job's holder: pending at confirmation, clean, or quarantined with its tasks", async () => {
      const owner = newOwner();
      const [a, b] = [newRecord(owner), newRecord(owner)];
      await q.insertPending([a, b]);
      expect(await q.markUploaded(owner, [a.id, b.id], t0, { scan: true })).toBe(2);
      expect((await q.findByIds(owner, [a.id, b.id])).map((r) => r.scanStatus)).toEqual(["pending", "pending"]);
      const jobs = await q.claimProcessing({ workerId: "p", leaseMs: lease, limit: 2, now: t0 });
      expect(jobs.map((j) => [j.scanStatus, j.sizeBytes]).sort()).toEqual([["pending", a.sizeBytes], ["pending", b.sizeBytes]].sort());
      const at = plus(t0, 5);
      expect(await q.recordScan(a.id, "other", { status: "clean", at })).toBe(false);
      expect(await q.recordScan(a.id, "p", { status: "clean", at })).toBe(true);
      expect(await q.quarantine(b.id, "other", { status: "infected", signature: "Eicar-Test", at })).toBe(false);
      expect(await q.quarantine(b.id, "p", { status: "infected", signature: "Eicar-Test", at })).toBe(true);
      const [ra] = await q.findByIds(owner, [a.id]);
      const [rb] = await q.findByIds(owner, [b.id]);
      expect(ra).toMatchObject({ status: "uploaded", scanStatus: "clean", scannedAt: at, processingStatus: "processing" });
      expect(rb).toMatchObject({ status: "quarantined", scanStatus: "infected", scanSignature: "Eicar-Test", scannedAt: at, processingStatus: "cancelled" });
      expect(await q.completeProcessing(b.id, "p", newResult(b.id, sha256Of("b"), []))).toBe(false);
      const tasks = await claimAll("w");
      // The quarantined event waits behind the uploaded one (same file, same order key).
      expect(summary(tasks.filter((t) => t.fileId === b.id))).toEqual([`publish:uploaded:${b.id}`, `quarantine:-:${b.id}`].sort());
      for (const t of tasks) await q.completeTask(t.id, "w");
      expect(summary((await claimAll("w")).filter((t) => t.fileId === b.id))).toEqual([`publish:quarantined:${b.id}`]);
    });

    it("counts a job's attempts from its clean scan: the claims that waited for the scanner spend none", async () => {
      const owner = newOwner();
      const a = newRecord(owner);
      await q.insertPending([a]);
      await q.markUploaded(owner, [a.id], t0, { scan: true });
      for (let i = 0; i < 3; i++) {
        const [job] = await q.claimProcessing({ workerId: "p", leaseMs: lease, limit: 1, now: plus(t0, i) });
        expect(job?.attempts).toBe(i + 1);
        if (i < 2) await q.failProcessing(a.id, "p", "waiting for the malware scanner", plus(t0, i + 1));
      }
      expect(await q.recordScan(a.id, "p", { status: "clean", at: plus(t0, 3) })).toBe(true);
      await q.failProcessing(a.id, "p", "the store failed", plus(t0, 4));
      const [retried] = await q.claimProcessing({ workerId: "p", leaseMs: lease, limit: 1, now: plus(t0, 4) });
      expect(retried).toMatchObject({ fileId: a.id, attempts: 2, scanStatus: "clean" });
    });

    it("turns an upload's intent row into its file, or hands back the owner's file with the same bytes", async () => {
      const owner = newOwner();
      const first = newUploaded(owner, { uploadedAt: t0 });
      const second = newUploaded(owner, { uploadedAt: t0, sha256: first.sha256 });
      const late = newUploaded(owner, { uploadedAt: t0 });
      const intent = (f: typeof first) => ({ ...newRecord(owner, { id: f.id, objectKey: f.objectKey }), uploadExpiresAt: t0, expireDueAt: plus(t0, 1000) });
      await q.insertPending([intent(first), intent(second), intent(late)]);
      expect(await q.fulfilIntent(first)).toEqual({ inserted: true });
      const [stored] = await q.findByIds(owner, [first.id]);
      expect(stored).toMatchObject({ status: "uploaded", sha256: first.sha256, sizeBytes: first.sizeBytes, md5: first.md5, processingStatus: "pending" });
      const jobs = await q.claimProcessing({ workerId: "p", leaseMs: lease, limit: 5, now: t0 });
      expect(jobs.map((j) => j.fileId)).toEqual([first.id]);

      const duplicate = await q.fulfilIntent(second);
      expect(duplicate).toMatchObject({ inserted: false, existing: { id: first.id } });
      expect((await q.findByIds(owner, [second.id]))[0]?.status).toBe("pending");
      await q.abandonIntent(owner, second.id, true);
      await q.abandonIntent(owner, first.id, true); // not pending: untouched
      expect((await q.findByIds(owner, [second.id, first.id])).map((r) => r.id)).toEqual([first.id]);

      // Objects that may remain: expired at once, their purge queued.
      const unsure = { ...newRecord(owner), uploadExpiresAt: t0, expireDueAt: plus(t0, 1000) };
      await q.insertPending([unsure]);
      await q.abandonIntent(owner, unsure.id, false);
      expect((await q.findByIds(owner, [unsure.id]))[0]?.status).toBe("expired");
      expect(await q.expireDue(plus(t0, 1000), 10)).toEqual([late.id]);
      const error = await q.fulfilIntent(late).catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: "failed_precondition" });
      const tasks = await claimAll("w");
      expect(summary(tasks).filter((t) => t.startsWith("publish:uploaded"))).toEqual([`publish:uploaded:${first.id}`]);
      expect(summary(tasks).filter((t) => t.endsWith(unsure.id))).toEqual([`purge:-:${unsure.id}`]);

      // A write that may still land: the purge waits until purgeAt.
      const inFlight = { ...newRecord(owner), uploadExpiresAt: t0, expireDueAt: plus(t0, 1000) };
      await q.insertPending([inFlight]);
      const purgeAt = plus(new Date(), 60_000);
      await q.abandonIntent(owner, inFlight.id, false, purgeAt);
      expect((await q.findByIds(owner, [inFlight.id]))[0]?.status).toBe("expired");
      expect(summary(await claimAll("w", plus(purgeAt, -1000)))).toEqual([]);
      expect(summary(await claimAll("w", purgeAt))).toEqual([`purge:-:${inFlight.id}`]);
    });

    it("keeps each idempotency key's files by position: one insert per position, freed after its window", async () => {
      const owner = newOwner();
      const idem = (seq: number) => ({ key: "retry-me", seq, fingerprint: sha256Of("request") });
      const [a, b] = [newRecord(owner, { idempotency: idem(0) }), newRecord(owner, { idempotency: idem(1) })];
      await q.insertPending([a, b]);
      const racer = newRecord(owner, { idempotency: idem(1) });
      const error = await q.insertPending([newRecord(owner), racer]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdempotencyConflictError);
      expect(await q.findByIds(owner, [racer.id])).toEqual([]); // all or nothing
      // Another owner's key is another key.
      await q.insertPending([newRecord(newOwner(), { idempotency: idem(0) })]);
      const found = await q.findByIdempotencyKey(owner, "retry-me");
      expect(found.map((f) => [f.id, f.seq, f.fingerprint])).toEqual([
        [a.id, 0, sha256Of("request")],
        [b.id, 1, sha256Of("request")],
      ]);
      expect(found[0]!.createdAt).toEqual(a.createdAt);
      expect(await q.releaseIdempotencyKey(owner, "retry-me", a.createdAt)).toBe(0); // not older than the window start
      expect(await q.releaseIdempotencyKey(owner, "retry-me", plus(a.createdAt, 1))).toBe(2);
      expect(await q.findByIdempotencyKey(owner, "retry-me")).toEqual([]);
      await q.insertPending([newRecord(owner, { idempotency: idem(0) })]);
    });

    it("lists a file's stored objects, variants included, whoever owns it", async () => {
      const owner = newOwner();
      const file = newUploaded(owner, { processing: { webpQuality: null, claim: { workerId: "p", leaseMs: lease } } });
      await q.insertUploaded(file);
      const result = newResult(file.id, sha256Of("x"), [["thumb", 10], ["large", 99]]);
      await q.completeProcessing(file.id, "p", result);
      const stored = await q.storedObjects(file.id);
      expect(stored?.status).toBe("uploaded");
      expect(stored?.keys[0]).toBe(file.objectKey);
      expect(stored?.keys.slice(1).sort()).toEqual(result.variants.map((v) => v.objectKey).sort());
      expect(await q.storedObjects("no-such-file")).toBeUndefined();
    });

    describe("claims", () => {
      const task = (over: Partial<NewTask> = {}): NewTask => ({
        kind: "deliver",
        fileId: null,
        ownerId: null,
        payload: '{"n":1}',
        orderKey: null,
        dueAt: t0,
        ...over,
      });

      it("hands each due task to one claimer, across instances, and only the kinds asked for", async () => {
        await q.enqueueTasks(Array.from({ length: 30 }, (_, i) => task({ payload: `{"n":${i}}` })));
        await q.enqueueTasks([task({ kind: "purge" })]);
        expect(await q.claimTasks({ workerId: "x", leaseMs: lease, limit: 10, now: plus(t0, -1), kinds: ALL })).toEqual([]);
        const other = await opened.another();
        try {
          const claims = await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
              (i % 2 ? other : q).claimTasks({ workerId: `w${i}`, leaseMs: lease, limit: 7, now: t0, kinds: ["deliver"] }),
            ),
          );
          const ids = claims.flat().map((t) => t.id);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids).toHaveLength(30);
        } finally {
          await other.close();
        }
      });

      it("runs tasks of one order key one at a time, in order; a failed one no longer holds the rest", async () => {
        await q.enqueueTasks([task({ orderKey: "k", payload: "1" }), task({ orderKey: "k", payload: "2" }), task({ orderKey: "k", payload: "3" })]);
        const [first, ...none] = await claimAll("w", t0);
        expect(first?.payload).toBe("1");
        expect(none).toEqual([]);
        expect(await q.failTask(first!.id, "w", "boom", null)).toBe(true);
        const [second] = await claimAll("w", t0);
        expect(second?.payload).toBe("2");
        expect(await q.completeTask(second!.id, "w", [task({ kind: "purge", payload: "follow-up" })])).toBe(true);
        expect((await claimAll("w", t0)).map((t) => t.payload).sort()).toEqual(["3", "follow-up"]);
      });

      it("retries at the given time, gives a lapsed lease to another worker, refuses the first worker's late answer", async () => {
        await q.enqueueTasks([task()]);
        const [t] = await q.claimTasks({ workerId: "a", leaseMs: 1000, limit: 1, now: t0, kinds: ALL });
        expect(await q.failTask(t!.id, "a", "flaky", plus(t0, 5000))).toBe(true);
        expect(await claimAll("b", plus(t0, 4999))).toEqual([]);
        const [again] = await q.claimTasks({ workerId: "b", leaseMs: 1000, limit: 1, now: plus(t0, 5000), kinds: ALL });
        expect(again).toMatchObject({ id: t!.id, attempts: 2, lastError: "flaky" });
        expect(await claimAll("c", plus(t0, 5500))).toEqual([]); // still leased
        const [taken] = await claimAll("c", plus(t0, 6001));
        expect(taken).toMatchObject({ id: t!.id, attempts: 3 });
        expect(await q.completeTask(t!.id, "b")).toBe(false);
        expect(await q.failTask(t!.id, "b", "late", null)).toBe(false);
        expect(await q.completeTask(t!.id, "c")).toBe(true);
        expect(await claimAll("d")).toEqual([]);
      });

      it("keeps failed tasks for an operator: listed, counted, re-queued", async () => {
        await q.enqueueTasks([task({ fileId: "f1", kind: "purge" }), task()]);
        const claimed = await claimAll("w", t0);
        for (const t of claimed) await q.failTask(t.id, "w", `gave up on ${t.kind}`, null);
        const failed = await q.listTasks({ status: "failed", limit: 10 });
        expect(failed.map((t) => [t.kind, t.fileId, t.attempts, t.lastError])).toEqual([
          ["purge", "f1", 1, "gave up on purge"],
          ["deliver", null, 1, "gave up on deliver"],
        ]);
        const stats = await q.taskStats(plus(t0, 10));
        expect(stats.counts.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
          { kind: "deliver", status: "failed", count: 1 },
          { kind: "purge", status: "failed", count: 1 },
        ]);
        expect(stats.oldestDueMs).toBe(0);
        expect(await q.requeueTasks([failed[0]!.id, 999_999], plus(t0, 20))).toBe(1);
        const after = await q.taskStats(plus(t0, 30));
        expect(after.oldestDueMs).toBe(10);
        const [requeued] = await claimAll("w", plus(t0, 30));
        expect(requeued).toMatchObject({ id: failed[0]!.id, attempts: 1 });
      });
    });
  });
}
