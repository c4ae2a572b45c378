// The behaviour every FileRepository must have, run against each implementation
// (test/db/*-file-repository.test.ts) so MySQL and SQLite cannot drift apart.
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { v7 as uuidv7 } from "uuid";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FileRecord, NewFileRecord, ProcessingJob, VariantRecord } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { newOwner, newRecord, newRecords, newResult, newUploaded, sha256Of, unprocessed, idsOf } from "../support/records.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { describeOutbox } from "./outbox-contract.js";

export interface OpenedRepository {
  repo: FileRepository;
  /** Another repository on the same database, with its own connections (as another instance would have). */
  another(): Promise<FileRepository>;
  /** Closes the repository and discards its database. */
  close(): Promise<void>;
}

export interface FileRepositoryContract {
  /** A repository on a fresh, empty, migrated database. */
  open(): Promise<OpenedRepository>;
  /** A repository whose database cannot be reached: every query must fail. */
  openUnreachable(): Promise<FileRepository>;
  /** The driver's `code` for a duplicate primary key, somewhere on the error's cause chain. */
  duplicateKeyCode: string;
}

const byName = (a: VariantRecord, b: VariantRecord) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sortedIds = (ids: readonly string[]) => [...ids].sort();
const jobIds = (jobs: readonly ProcessingJob[]) => sortedIds(jobs.map((job) => job.fileId));
const at = (iso: string) => new Date(iso);
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);

/** The `code`s along an error's cause chain (drizzle wraps the driver's error). */
export function causeCodes(error: unknown): unknown[] {
  const codes: unknown[] = [];
  for (let e = error; e instanceof Error; e = e.cause) codes.push((e as { code?: unknown }).code);
  return codes;
}

export async function byId(repo: FileRepository, ownerId: string, id: string): Promise<FileRecord> {
  const [record] = await repo.findByIds(ownerId, [id]);
  if (!record) throw new Error(`record ${id} not found`);
  return record;
}

export function describeFileRepository(name: string, contract: FileRepositoryContract): void {
  describe(`${name}: FileRepository contract`, () => {
    let opened: OpenedRepository | undefined;
    let repo: FileRepository;

    beforeAll(async () => {
      opened = await contract.open();
      repo = opened.repo;
    });

    afterAll(async () => {
      await opened?.close();
    });

    describe("insertPending / findByIds", () => {
      it("stores every field and returns the owner's records as pending", async () => {
        const owner = newOwner();
        const record = newRecord(owner, {
          // 4-byte UTF-8 needs utf8mb4; > 2^32 needs a bigint.
          filename: "🎉 résumé ".repeat(25).slice(0, 250),
          sizeBytes: 5 * 2 ** 30 + 1,
          contentType: "text/plain; charset=utf-8",
        });
        const other = newRecord(owner);
        await repo.insertPending([record, other]);

        const found = await repo.findByIds(owner, [record.id, other.id, uuidv7()]);
        expect(found.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
          [record, other]
            .sort((a, b) => (a.id < b.id ? -1 : 1))
            .map((r) => ({ ...r, status: "pending", uploadedAt: null, deletedAt: null, ...unprocessed })),
        );
      });

      it("inserts nothing when one record of the batch collides with an existing id", async () => {
        const owner = newOwner();
        const [existing, first, last] = newRecords(owner, 3) as [NewFileRecord, NewFileRecord, NewFileRecord];
        await repo.insertPending([existing]);

        const error: unknown = await repo
          .insertPending([first, { ...existing, filename: "again" }, last])
          .catch((e) => e);
        // A duplicate key is a bug of the caller, not an outage: it passes through unchanged.
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(DependencyUnavailableError);
        expect(causeCodes(error)).toContain(contract.duplicateKeyCode);

        expect(await repo.findByIds(owner, [first.id, last.id])).toEqual([]);
        expect((await byId(repo, owner, existing.id)).filename).toBe(existing.filename);
      });

      it("returns [] for an empty id list without querying", async () => {
        const unreachable = await contract.openUnreachable();
        try {
          expect(await unreachable.findByIds("someone", [])).toEqual([]);
          expect(await unreachable.markUploaded("someone", [], new Date())).toBe(0);
          expect(await unreachable.markDeleted("someone", [], new Date())).toBe(0);
          expect(await unreachable.requestProcessing("someone", [], { webpQuality: null }, new Date())).toBe(0);
          expect(await unreachable.claimProcessing({ workerId: "w", leaseMs: 1, limit: 0, now: new Date() })).toEqual([]);
          await unreachable.insertPending([]);
        } finally {
          await unreachable.close();
        }
      });
    });

    describe("owner scoping", () => {
      it("hides another owner's records from every operation", async () => {
        const owner = newOwner();
        const records = newRecords(owner, 2);
        await repo.insertPending(records);
        const uploaded = newUploaded(owner);
        await repo.insertUploaded(uploaded);
        const ids = [...idsOf(records), uploaded.id];
        const now = new Date();

        // Owner ids compare exactly: a differently cased id is another owner.
        for (const intruder of [newOwner(), owner.toUpperCase(), `${owner}x`]) {
          expect(await repo.findByIds(intruder, ids)).toEqual([]);
          expect(await repo.findByContentHash(intruder, uploaded.sha256)).toBeUndefined();
          expect(await repo.markUploaded(intruder, ids, now)).toBe(0);
          expect(await repo.markDeleted(intruder, ids, now)).toBe(0);
          expect(await repo.requestProcessing(intruder, ids, { webpQuality: 10 }, now)).toBe(0);
          expect(
            await repo.list({ ownerId: intruder, statuses: ["pending", "uploaded", "deleted"], limit: 10 }),
          ).toEqual([]);
          // Another owner's identical upload is not a duplicate.
          const theirs = newUploaded(intruder, { sha256: uploaded.sha256 });
          expect(await repo.insertUploaded(theirs)).toEqual({ inserted: true });
          expect((await repo.findByContentHash(intruder, uploaded.sha256))?.id).toBe(theirs.id);
        }

        const untouched = await repo.findByIds(owner, ids);
        expect(
          untouched.sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => [r.status, r.deletedAt, r.processingStatus]),
        ).toEqual([
          ["pending", null, "pending"],
          ["pending", null, "pending"],
          ["uploaded", null, "pending"],
        ]);
        expect((await repo.findByContentHash(owner, uploaded.sha256))?.id).toBe(uploaded.id);
      });
    });

    describe("markUploaded", () => {
      it("moves only pending records and counts them", async () => {
        const owner = newOwner();
        const [a, b, c, d] = idsOf(newRecords(owner, 4)) as [string, string, string, string];
        await repo.insertPending([a, b, c, d].map((id) => newRecord(owner, { id })));
        const first = new Date("2025-02-01T00:00:00.100Z");
        const second = new Date("2025-02-01T00:00:00.200Z");

        expect(await repo.markUploaded(owner, [a, b], first)).toBe(2);
        expect(await repo.markDeleted(owner, [d], first)).toBe(1);
        // a and b are already uploaded, d is deleted: only c moves.
        expect(await repo.markUploaded(owner, [a, b, c, d, uuidv7()], second)).toBe(1);

        const found = new Map((await repo.findByIds(owner, [a, b, c, d])).map((r) => [r.id, r]));
        expect(found.get(a)).toMatchObject({ status: "uploaded", uploadedAt: first });
        expect(found.get(b)).toMatchObject({ status: "uploaded", uploadedAt: first });
        expect(found.get(c)).toMatchObject({ status: "uploaded", uploadedAt: second });
        expect(found.get(d)).toMatchObject({ status: "deleted", uploadedAt: null });
      });
    });

    describe("markDeleted", () => {
      it("deletes pending and uploaded records once, keeping the first deletion time", async () => {
        const owner = newOwner();
        const [a, b, c] = idsOf(newRecords(owner, 3)) as [string, string, string];
        await repo.insertPending([a, b, c].map((id) => newRecord(owner, { id })));
        await repo.markUploaded(owner, [b], new Date());
        const first = new Date("2025-03-01T00:00:00.001Z");

        expect(await repo.markDeleted(owner, [a, b], first)).toBe(2);
        expect(await repo.markDeleted(owner, [a, b], new Date())).toBe(0);
        expect(await repo.markDeleted(owner, [a, b, c, uuidv7()], new Date("2025-03-02T00:00:00Z"))).toBe(1);

        const found = new Map((await repo.findByIds(owner, [a, b, c])).map((r) => [r.id, r]));
        expect(found.get(a)).toMatchObject({ status: "deleted", deletedAt: first });
        expect(found.get(b)).toMatchObject({ status: "deleted", deletedAt: first });
        expect(found.get(c)).toMatchObject({ status: "deleted", deletedAt: new Date("2025-03-02T00:00:00Z") });
      });
    });

    describe("reconciliation reads", () => {
      it("tells each file's status whoever owns it, and pages one status across owners", async () => {
        const [ownerA, ownerB] = [newOwner(), newOwner()];
        const a = newRecords(ownerA, 3);
        const b = newRecords(ownerB, 2);
        await repo.insertPending([...a, ...b]);
        await repo.markUploaded(ownerA, idsOf(a), new Date());
        await repo.markUploaded(ownerB, idsOf(b), new Date());
        await repo.markDeleted(ownerA, [a[0]!.id], new Date());
        const unknown = uuidv7();

        const statuses = await repo.statusesOf([a[0]!.id, a[1]!.id, b[0]!.id, unknown]);
        expect(Object.fromEntries(statuses)).toEqual({ [a[0]!.id]: "deleted", [a[1]!.id]: "uploaded", [b[0]!.id]: "uploaded" });
        expect((await repo.statusesOf([])).size).toBe(0);

        // Pages of two, newest first, across both owners (other tests' rows may be there too).
        const ours = new Set([...idsOf(a), ...idsOf(b)]);
        const seen: string[] = [];
        let beforeId: string | undefined;
        for (let page = await repo.pageByStatus({ status: "uploaded", limit: 2 }); page.length > 0; page = await repo.pageByStatus({ status: "uploaded", beforeId, limit: 2 })) {
          expect(page.length).toBeLessThanOrEqual(2);
          seen.push(...page.map((r) => r.id));
          beforeId = page.at(-1)!.id;
        }
        expect(seen).toEqual([...seen].sort().reverse());
        expect(seen.filter((id) => ours.has(id)).sort()).toEqual([a[1]!.id, a[2]!.id, ...idsOf(b)].sort());
      });
    });

    describe("list", () => {
      it("pages newest first with a keyset cursor", async () => {
        const owner = newOwner();
        const records = newRecords(owner, 5);
        // Insertion order must not matter, only id order.
        await repo.insertPending([...records].reverse().slice(2));
        await repo.insertPending([...records].reverse().slice(0, 2));
        const newestFirst = idsOf(records).reverse();
        const query = { ownerId: owner, statuses: ["pending"] as const, limit: 2 };

        const page1 = await repo.list(query);
        expect(idsOf(page1)).toEqual(newestFirst.slice(0, 2));
        const page2 = await repo.list({ ...query, beforeId: page1.at(-1)?.id });
        expect(idsOf(page2)).toEqual(newestFirst.slice(2, 4));
        const page3 = await repo.list({ ...query, beforeId: page2.at(-1)?.id });
        expect(idsOf(page3)).toEqual(newestFirst.slice(4));
        expect(await repo.list({ ...query, beforeId: page3.at(-1)?.id })).toEqual([]);
        expect(idsOf(await repo.list({ ...query, limit: 100 }))).toEqual(newestFirst);
      });

      it("returns only the requested statuses", async () => {
        const owner = newOwner();
        const [p1, u1, d1, p2, u2] = idsOf(newRecords(owner, 5)) as [string, string, string, string, string];
        await repo.insertPending([p1, u1, d1, p2, u2].map((id) => newRecord(owner, { id })));
        await repo.markUploaded(owner, [u1, u2], new Date());
        await repo.markDeleted(owner, [d1], new Date());
        const list = (statuses: FileRecord["status"][], beforeId?: string) =>
          repo.list({ ownerId: owner, statuses, limit: 10, beforeId }).then(idsOf);

        expect(await list(["pending"])).toEqual([p2, p1]);
        expect(await list(["uploaded"])).toEqual([u2, u1]);
        expect(await list(["deleted"])).toEqual([d1]);
        expect(await list(["pending", "uploaded"])).toEqual([u2, p2, u1, p1]);
        expect(await list(["pending", "uploaded"], p2)).toEqual([u1, p1]);
        expect(await list([])).toEqual([]);
      });
    });

    describe("countByStatus", () => {
      it("reports every status, as 0, on an empty database", async () => {
        const empty = await contract.open();
        try {
          expect(await empty.repo.countByStatus()).toEqual({ pending: 0, uploaded: 0, deleted: 0, expired: 0, quarantined: 0, missing: 0 });
        } finally {
          await empty.close();
        }
      });

      it("counts the records in each status across all owners", async () => {
        // Other tests share this database, so compare against a baseline.
        const before = await repo.countByStatus();
        const [alice, bob] = [newOwner(), newOwner()];
        const [a1, a2, a3, a4] = idsOf(newRecords(alice, 4)) as [string, string, string, string];
        const [b1, b2] = idsOf(newRecords(bob, 2)) as [string, string];
        await repo.insertPending([a1, a2, a3, a4].map((id) => newRecord(alice, { id })));
        await repo.insertPending([b1, b2].map((id) => newRecord(bob, { id })));
        await repo.markUploaded(alice, [a1, a2], new Date());
        await repo.markUploaded(bob, [b1], new Date());
        await repo.markDeleted(alice, [a2, a3], new Date());

        expect(await repo.countByStatus()).toEqual({
          pending: before.pending + 2, // a4, b2
          uploaded: before.uploaded + 2, // a1, b1
          deleted: before.deleted + 2, // a2, a3
          expired: before.expired,
          quarantined: before.quarantined,
          missing: before.missing,
        });
      });
    });

    describe("timestamps", () => {
      it("round-trip to the millisecond, whatever the process time zone", async () => {
        // The test file sets a zone far from UTC, with DST.
        expect(new Date("2025-07-01T00:00:00Z").getTimezoneOffset()).not.toBe(0);
        const owner = newOwner();
        const createdAt = new Date("2025-03-09T06:30:00.999Z"); // around a DST switch in America/*
        const uploadedAt = new Date("2025-11-02T04:59:59.001Z");
        const deletedAt = new Date("2030-12-31T23:59:59.457Z");
        const { id } = newRecord(owner);
        await repo.insertPending([newRecord(owner, { id, createdAt })]);
        await repo.markUploaded(owner, [id], uploadedAt);
        await repo.markDeleted(owner, [id], deletedAt);

        const record = await byId(repo, owner, id);
        expect([record.createdAt, record.uploadedAt, record.deletedAt].map((d) => d?.toISOString())).toEqual([
          createdAt.toISOString(),
          uploadedAt.toISOString(),
          deletedAt.toISOString(),
        ]);
      });
    });

    describe("insertUploaded / findByContentHash", () => {
      it("stores an uploaded file with its hash, queued for processing", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { purpose: "avatar", processing: { webpQuality: 70 } });
        expect(await repo.insertUploaded(file)).toEqual({ inserted: true });

        const { sha256, uploadedAt, processing: _, ...fields } = file;
        const expected: FileRecord = {
          ...fields,
          status: "uploaded",
          uploadedAt,
          deletedAt: null,
          ...unprocessed,
          variants: [],
          sha256,
        };
        expect(await byId(repo, owner, file.id)).toEqual(expected);
        expect(await repo.findByContentHash(owner, sha256)).toEqual(expected);
        expect(await repo.findByContentHash(owner, sha256Of("other content"))).toBeUndefined();
        expect(await repo.list({ ownerId: owner, statuses: ["uploaded"], limit: 10 })).toEqual([expected]);
      });

      it("returns the owner's live file with the same hash instead of inserting; a deleted one frees the hash", async () => {
        const owner = newOwner();
        const first = newUploaded(owner);
        expect(await repo.insertUploaded(first)).toEqual({ inserted: true });
        const stored = await byId(repo, owner, first.id);

        const again = newUploaded(owner, { sha256: first.sha256, filename: "copy.jpg" });
        expect(await repo.insertUploaded(again)).toEqual({ inserted: false, existing: stored });
        expect(await repo.findByIds(owner, [again.id])).toEqual([]);

        // Another owner's identical content is theirs to keep.
        const foreign = newUploaded(newOwner(), { sha256: first.sha256 });
        expect(await repo.insertUploaded(foreign)).toEqual({ inserted: true });

        expect(await repo.markDeleted(owner, [first.id], new Date())).toBe(1);
        expect(await repo.findByContentHash(owner, first.sha256)).toBeUndefined();
        const third = newUploaded(owner, { sha256: first.sha256 });
        expect(await repo.insertUploaded(third)).toEqual({ inserted: true });
        expect((await repo.findByContentHash(owner, first.sha256))?.id).toBe(third.id);
        // The deleted file still tells what it held.
        expect(await byId(repo, owner, first.id)).toMatchObject({ status: "deleted", sha256: first.sha256 });
      });

      it("ends 20 concurrent identical uploads of one owner with exactly one row", async () => {
        const owner = newOwner();
        const sha256 = sha256Of(randomUUID());
        const uploads = Array.from({ length: 20 }, () => newUploaded(owner, { sha256 }));
        const results = await Promise.all(uploads.map((upload) => repo.insertUploaded(upload)));

        const winners = uploads.filter((_, i) => results[i]?.inserted);
        expect(winners).toHaveLength(1);
        const winner = winners[0]!.id;
        for (const result of results) {
          if (!result.inserted) expect(result.existing.id).toBe(winner);
        }
        expect(idsOf(await repo.findByIds(owner, idsOf(uploads)))).toEqual([winner]);
        expect(idsOf(await repo.list({ ownerId: owner, statuses: ["uploaded"], limit: 100 }))).toEqual([winner]);
      });

      it("fails on a duplicate id, which is not a duplicate upload", async () => {
        const owner = newOwner();
        const file = newUploaded(owner);
        await repo.insertUploaded(file);
        const error: unknown = await repo
          .insertUploaded({ ...file, sha256: sha256Of(randomUUID()) })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(DependencyUnavailableError);
        expect(causeCodes(error)).toContain(contract.duplicateKeyCode);
      });
    });

    describe("variants", () => {
      it("come back with every read, sorted by name, each file with its own", async () => {
        const owner = newOwner();
        const worker = { workerId: `worker-${randomUUID()}`, leaseMs: 60_000 };
        const [a, b, plain] = [1, 2, 3].map(() => newUploaded(owner, { processing: { webpQuality: 80, claim: worker } }));
        for (const file of [a!, b!, plain!]) expect(await repo.insertUploaded(file)).toEqual({ inserted: true });
        const resultA = newResult(a!.id, a!.sha256, [["thumb", 160], ["large", 2048], ["medium", 1024]]);
        const resultB = newResult(b!.id, b!.sha256, [["thumb", 150], ["medium", 1000]]);
        expect(await repo.completeProcessing(a!.id, worker.workerId, resultA)).toBe(true);
        expect(await repo.completeProcessing(b!.id, worker.workerId, resultB)).toBe(true);

        const expectedA = {
          sha256: a!.sha256,
          width: 4032,
          height: 3024,
          blurhash: resultA.blurhash,
          processingStatus: "completed",
          processingError: null,
          variants: [...resultA.variants].sort(byName),
        };
        expect(expectedA.variants.map((v) => v.name)).toEqual(["large", "medium", "thumb"]);
        const found = new Map((await repo.findByIds(owner, idsOf([a!, b!, plain!]))).map((r) => [r.id, r]));
        expect(found.get(a!.id)).toMatchObject(expectedA);
        expect(found.get(a!.id)?.variants).toEqual(expectedA.variants);
        expect(found.get(b!.id)?.variants).toEqual([...resultB.variants].sort(byName));
        expect(found.get(plain!.id)).toMatchObject({ processingStatus: "processing", variants: [] });

        const listed = await repo.list({ ownerId: owner, statuses: ["uploaded"], limit: 10 });
        expect(listed.map((r) => [r.id, r.variants])).toEqual([
          [plain!.id, []],
          [b!.id, [...resultB.variants].sort(byName)],
          [a!.id, expectedA.variants],
        ]);
        expect((await repo.findByContentHash(owner, a!.sha256))?.variants).toEqual(expectedA.variants);
      });

      it("are replaced as a whole when the file is processed again", async () => {
        const owner = newOwner();
        const first = { workerId: `worker-${randomUUID()}`, leaseMs: 60_000 };
        const file = newUploaded(owner, { processing: { webpQuality: null, claim: first } });
        await repo.insertUploaded(file);
        await repo.completeProcessing(file.id, first.workerId, newResult(file.id, file.sha256, [["thumb", 160], ["large", 2048], ["medium", 1024]]));

        const second = { workerId: `worker-${randomUUID()}`, leaseMs: 60_000 };
        expect(await repo.requestProcessing(owner, [file.id], { webpQuality: 50, claim: second }, new Date())).toBe(1);
        // Until the new result arrives, the old variants stay.
        expect((await byId(repo, owner, file.id)).variants.map((v) => v.name)).toEqual(["large", "medium", "thumb"]);
        const again = newResult(file.id, file.sha256, [["thumb", 120]]);
        again.variants[0]!.objectKey = `variants/${file.id}/thumb-v2.webp`;
        expect(await repo.completeProcessing(file.id, second.workerId, again)).toBe(true);
        expect((await byId(repo, owner, file.id)).variants).toEqual(again.variants);

        const third = { workerId: `worker-${randomUUID()}`, leaseMs: 60_000 };
        await repo.requestProcessing(owner, [file.id], { webpQuality: null, claim: third }, new Date());
        expect(await repo.completeProcessing(file.id, third.workerId, newResult(file.id, file.sha256, []))).toBe(true);
        expect(await byId(repo, owner, file.id)).toMatchObject({ processingStatus: "completed", variants: [] });
      });
    });

    // The queue is global (not per owner), so each test gets a database of its own.
    describe("processing queue", () => {
      let queue: OpenedRepository;
      let q: FileRepository;
      const t0 = at("2025-06-01T12:00:00.000Z");
      const lease = 60_000;
      const claim = (workerId: string, now: Date, limit = 10, leaseMs = lease) =>
        q.claimProcessing({ workerId, leaseMs, limit, now });

      beforeEach(async () => {
        queue = await contract.open();
        q = queue.repo;
      });

      afterEach(async () => {
        await queue?.close();
      });

      it("hands out due jobs once, oldest due first, with what the worker needs", async () => {
        const owner = newOwner();
        const late = newUploaded(owner, { uploadedAt: plus(t0, 2), purpose: "story", processing: { webpQuality: 75 } });
        const early = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null } });
        const future = newUploaded(owner, { uploadedAt: plus(t0, 60_000), processing: { webpQuality: null } });
        for (const file of [late, early, future]) await q.insertUploaded(file);

        expect(await claim("w1", plus(t0, 10), 1)).toEqual([
          {
            fileId: early.id,
            ownerId: owner,
            objectKey: early.objectKey,
            contentType: early.contentType,
            purpose: early.purpose,
            webpQuality: null,
            attempts: 1,
            sizeBytes: early.sizeBytes,
            scanStatus: "not_scanned",
          },
        ]);
        expect(await claim("w2", plus(t0, 10))).toEqual([
          {
            fileId: late.id,
            ownerId: owner,
            objectKey: late.objectKey,
            contentType: late.contentType,
            purpose: "story",
            webpQuality: 75,
            attempts: 1,
            sizeBytes: late.sizeBytes,
            scanStatus: "not_scanned",
          },
        ]);
        // Not due yet; the others are held.
        expect(await claim("w3", plus(t0, 10))).toEqual([]);
        expect(jobIds(await claim("w3", plus(t0, 60_000)))).toEqual([future.id]);
        expect(await claim("w3", plus(t0, 59_000))).toEqual([]);
        expect((await byId(q, owner, early.id)).processingStatus).toBe("processing");
      });

      it("never hands one job to two repository instances claiming at the same time", async () => {
        const other = await queue.another();
        try {
          const owner = newOwner();
          const files = Array.from({ length: 30 }, (_, i) => newUploaded(owner, { uploadedAt: plus(t0, i) }));
          for (const file of files) await q.insertUploaded(file);
          const now = plus(t0, 1_000);

          const drain = async (repo: FileRepository, workerId: string) => {
            const got: ProcessingJob[] = [];
            for (;;) {
              const jobs = await repo.claimProcessing({ workerId, leaseMs: lease, limit: 3, now });
              if (jobs.length === 0) return got;
              got.push(...jobs);
            }
          };
          // Connected before the race, so neither drains the queue while the other still connects.
          await Promise.all([q.ping(), other.ping()]);
          const [a, b] = await Promise.all([drain(q, "worker-a"), drain(other, "worker-b")]);

          // Both took part (a claim that locked every due row would leave the other none).
          expect(a.length, "worker-a's jobs").toBeGreaterThan(0);
          expect(b.length, "worker-b's jobs").toBeGreaterThan(0);
          expect([...jobIds(a), ...jobIds(b)].sort()).toEqual(sortedIds(idsOf(files)));
          expect(new Set([...jobIds(a), ...jobIds(b)]).size).toBe(30);
          expect([...a, ...b].every((job) => job.attempts === 1)).toBe(true);
          // Each job belongs to the worker that got it, and only to that one.
          for (const [mine, theirs, workerId, otherWorker] of [
            [a, q, "worker-a", "worker-b"],
            [b, other, "worker-b", "worker-a"],
          ] as const) {
            for (const job of mine) {
              const result = newResult(job.fileId, sha256Of(job.fileId), [["thumb", 100]]);
              expect(await theirs.completeProcessing(job.fileId, otherWorker, result)).toBe(false);
              expect(await theirs.completeProcessing(job.fileId, workerId, result)).toBe(true);
            }
          }
        } finally {
          await other.close();
        }
      });

      it("gives a job whose lease ran out to another worker, and refuses the first worker's late result", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { uploadedAt: t0 });
        await q.insertUploaded(file);

        expect(jobIds(await claim("worker-a", plus(t0, 100), 10, 1_000))).toEqual([file.id]);
        expect(await claim("worker-b", plus(t0, 1_000))).toEqual([]); // held until t0 + 1100
        const [retaken] = await claim("worker-b", plus(t0, 1_200));
        expect(retaken).toMatchObject({ fileId: file.id, attempts: 2 });

        const result = newResult(file.id, file.sha256, [["thumb", 100]]);
        expect(await q.completeProcessing(file.id, "worker-a", result)).toBe(false);
        expect(await q.failProcessing(file.id, "worker-a", "late", null)).toBe(false);
        expect(await byId(q, owner, file.id)).toMatchObject({ processingStatus: "processing", variants: [] });
        expect(await q.completeProcessing(file.id, "worker-b", result)).toBe(true);
        expect(await byId(q, owner, file.id)).toMatchObject({ processingStatus: "completed", processingError: null });
        expect(await claim("worker-c", plus(t0, 10 * lease))).toEqual([]);
      });

      it("takes up a job again once the lease of a worker that stopped runs out", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: 60, claim: { workerId: "worker-a", leaseMs: 5_000 } } });
        await q.insertUploaded(file);
        // Inserted claimed: nobody else may take it during the lease.
        expect(await claim("worker-b", plus(t0, 4_000))).toEqual([]);
        expect(await claim("worker-b", plus(t0, 6_000))).toEqual([
          expect.objectContaining({ fileId: file.id, webpQuality: 60, attempts: 2 }),
        ]);
      });

      it("retries a failed attempt at the given time, not before", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { uploadedAt: t0 });
        await q.insertUploaded(file);
        await claim("worker-a", t0);
        const retryAt = plus(t0, 60_000);

        expect(await q.failProcessing(file.id, "worker-a", "storage timeout", retryAt)).toBe(true);
        expect(await byId(q, owner, file.id)).toMatchObject({ processingStatus: "pending", processingError: "storage timeout" });
        // The attempt is over: the claim is gone.
        expect(await q.failProcessing(file.id, "worker-a", "again", null)).toBe(false);
        expect(await q.completeProcessing(file.id, "worker-a", newResult(file.id, file.sha256, []))).toBe(false);

        expect(await claim("worker-b", plus(retryAt, -1))).toEqual([]);
        expect(await claim("worker-b", retryAt)).toEqual([expect.objectContaining({ fileId: file.id, attempts: 2 })]);
      });

      it("fails a job for good without a retry time, keeping the error", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: { workerId: "worker-a", leaseMs: lease } } });
        await q.insertUploaded(file);
        // Longer than the column: stored cut, by characters.
        const error = `not an image: ${"é🎉".repeat(600)}`;

        expect(await q.failProcessing(file.id, "worker-a", error, null)).toBe(true);
        expect(await byId(q, owner, file.id)).toMatchObject({
          processingStatus: "failed",
          processingError: [...error].slice(0, 1000).join(""),
        });
        expect(await claim("worker-b", plus(t0, 100 * lease))).toEqual([]);
        expect(await q.completeProcessing(file.id, "worker-a", newResult(file.id, file.sha256, []))).toBe(false);
      });

      it("queues a presigned upload's processing with its confirmation, in the same change", async () => {
        const owner = newOwner();
        const [a, b, c, d] = newRecords(owner, 4) as [NewFileRecord, NewFileRecord, NewFileRecord, NewFileRecord];
        await q.insertPending([a, b, c, d]);
        expect(await claim("worker-a", plus(t0, 100 * lease))).toEqual([]);
        expect(await q.markUploaded(owner, [a.id, b.id, d.id], t0)).toBe(3);
        expect(await q.markDeleted(owner, [d.id], t0)).toBe(1);
        // Confirmed means queued: due at the confirmation, with the default quality.
        expect(await claim("worker-a", plus(t0, -1))).toEqual([]);
        const confirmed = await claim("worker-a", t0);
        expect(jobIds(confirmed)).toEqual(sortedIds([a.id, b.id]));
        expect(confirmed.every((job) => job.webpQuality === null && job.attempts === 1)).toBe(true);
        await q.failProcessing(a.id, "worker-a", "broken", plus(t0, -1));
        await q.failProcessing(b.id, "worker-a", "broken", plus(t0, -1));

        // c is still pending (not uploaded), d deleted: neither is queued.
        expect(await q.requestProcessing(owner, [a.id, b.id, c.id, d.id], { webpQuality: 90 }, t0)).toBe(2);
        expect(await claim("worker-a", plus(t0, -1))).toEqual([]);
        const jobs = await claim("worker-a", t0);
        expect(jobIds(jobs)).toEqual(sortedIds([a.id, b.id]));
        expect(jobs.every((job) => job.webpQuality === 90 && job.attempts === 1)).toBe(true);

        // Queuing again resets what the earlier attempts left.
        await q.failProcessing(a.id, "worker-a", "broken", null);
        expect(await q.requestProcessing(owner, [a.id], { webpQuality: null }, plus(t0, 1))).toBe(1);
        expect(await byId(q, owner, a.id)).toMatchObject({ processingStatus: "pending", processingError: null });
        expect(await claim("worker-b", plus(t0, 1))).toEqual([
          expect.objectContaining({ fileId: a.id, webpQuality: null, attempts: 1 }),
        ]);

        // A synchronous request claims right away.
        await q.failProcessing(a.id, "worker-b", "broken", null);
        expect(await q.requestProcessing(owner, [a.id], { webpQuality: 40, claim: { workerId: "sync", leaseMs: lease } }, plus(t0, 2))).toBe(1);
        expect(await byId(q, owner, a.id)).toMatchObject({ processingStatus: "processing", processingError: null });
        expect(await claim("worker-b", plus(t0, 3))).toEqual([]);
        expect(await q.completeProcessing(a.id, "sync", newResult(a.id, sha256Of("a"), []))).toBe(true);
      });

      it("cancels unfinished processing of deleted files and frees their hashes", async () => {
        const owner = newOwner();
        const worker = { workerId: "worker-a", leaseMs: lease };
        const queued = newUploaded(owner, { uploadedAt: t0 });
        const running = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: worker } });
        const done = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: worker } });
        const failed = newUploaded(owner, { uploadedAt: t0, processing: { webpQuality: null, claim: worker } });
        const presigned = newRecord(owner);
        for (const file of [queued, running, done, failed]) await q.insertUploaded(file);
        await q.insertPending([presigned]);
        const doneResult = newResult(done.id, done.sha256, [["thumb", 100]]);
        expect(await q.completeProcessing(done.id, worker.workerId, doneResult)).toBe(true);
        expect(await q.failProcessing(failed.id, worker.workerId, "broken", null)).toBe(true);

        const all = [queued, running, done, failed, presigned];
        expect(await q.markDeleted(owner, idsOf(all), plus(t0, 1))).toBe(5);
        const found = new Map((await q.findByIds(owner, idsOf(all))).map((r) => [r.id, r]));
        expect(all.map((f) => found.get(f.id)?.processingStatus)).toEqual([
          "cancelled",
          "cancelled",
          "completed",
          "failed",
          "cancelled",
        ]);
        // A finished result stays readable (e.g. to remove its objects).
        expect(found.get(done.id)?.variants).toEqual(doneResult.variants);

        expect(await claim("worker-b", plus(t0, 100 * lease))).toEqual([]);
        expect(await q.completeProcessing(running.id, worker.workerId, newResult(running.id, running.sha256, []))).toBe(false);
        expect(await q.requestProcessing(owner, idsOf(all), { webpQuality: null }, t0)).toBe(0);
        for (const file of [queued, running, done, failed]) {
          expect(await q.findByContentHash(owner, file.sha256)).toBeUndefined();
          const again = newUploaded(owner, { sha256: file.sha256 });
          expect(await q.insertUploaded(again)).toEqual({ inserted: true });
        }
      });

      it("refuses the result for a file deleted while it was processed", async () => {
        const owner = newOwner();
        const file = newUploaded(owner, { uploadedAt: t0 });
        await q.insertUploaded(file);
        expect(jobIds(await claim("worker-a", t0))).toEqual([file.id]);
        await q.markDeleted(owner, [file.id], plus(t0, 1));

        const result = newResult(file.id, file.sha256, [["thumb", 100]]);
        expect(await q.completeProcessing(file.id, "worker-a", result)).toBe(false);
        expect(await q.failProcessing(file.id, "worker-a", "whatever", plus(t0, 3))).toBe(false);
        expect(await byId(q, owner, file.id)).toMatchObject({
          status: "deleted",
          processingStatus: "cancelled",
          blurhash: null,
          variants: [],
        });
        expect(await q.findByContentHash(owner, file.sha256)).toBeUndefined();
      });

      it("records a processed file's hash for dedup unless another live file of the owner has it", async () => {
        const owner = newOwner();
        const [a, b] = newRecords(owner, 2) as [NewFileRecord, NewFileRecord];
        await q.insertPending([a, b]);
        await q.markUploaded(owner, [a.id, b.id], t0);
        await q.requestProcessing(owner, [a.id, b.id], { webpQuality: null }, t0);
        expect(jobIds(await claim("worker-a", t0))).toEqual(sortedIds([a.id, b.id]));
        const sha256 = sha256Of(randomUUID());

        expect(await q.completeProcessing(a.id, "worker-a", newResult(a.id, sha256, []))).toBe(true);
        expect((await q.findByContentHash(owner, sha256))?.id).toBe(a.id);
        // The same content again (presigned uploads cannot be refused up front): completed all the same.
        expect(await q.completeProcessing(b.id, "worker-a", newResult(b.id, sha256, []))).toBe(true);
        expect(await byId(q, owner, b.id)).toMatchObject({ processingStatus: "completed", sha256 });
        expect((await q.findByContentHash(owner, sha256))?.id).toBe(a.id);

        const upload = newUploaded(owner, { sha256 });
        expect(await q.insertUploaded(upload)).toMatchObject({ inserted: false, existing: { id: a.id } });
        // Reprocessing the holder keeps its hash.
        await q.requestProcessing(owner, [a.id], { webpQuality: null, claim: { workerId: "worker-b", leaseMs: lease } }, t0);
        expect(await q.completeProcessing(a.id, "worker-b", newResult(a.id, sha256, []))).toBe(true);
        expect((await q.findByContentHash(owner, sha256))?.id).toBe(a.id);
      });
    });

    describeOutbox(contract);

    describe("an unreachable database", () => {
      it("fails every operation with DependencyUnavailableError", async () => {
        const unreachable = await contract.openUnreachable();
        try {
          const owner = newOwner();
          const operations = everyOperation(unreachable, owner);
          for (const operation of operations) {
            const error: unknown = await operation().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(DependencyUnavailableError);
            expect((error as DependencyUnavailableError).dependency).toBe("database");
          }
        } finally {
          await unreachable.close();
        }
      });
    });

    describe("close", () => {
      it("can be called more than once", async () => {
        const { repo: other, close } = await contract.open();
        try {
          await other.ping();
          await other.close();
          await other.close();
        } finally {
          await close();
        }
      });
    });
  });
}

interface Journal {
  entries: { tag: string }[];
}

/** The tags of the migrations in a drizzle migrations folder, oldest first. */
export async function migrationTags(folder: string): Promise<string[]> {
  const journal = JSON.parse(await readFile(path.join(folder, "meta/_journal.json"), "utf8")) as Journal;
  return journal.entries.map((entry) => entry.tag);
}

/**
 * A copy of a migrations folder that ends with migration `lastTag`: the database
 * an older release left behind, for testing an upgrade. Remove it with `discard`.
 */
export async function migrationsUpTo(folder: string, lastTag: string): Promise<{ folder: string; discard(): Promise<void> }> {
  const copy = await mkdtemp(path.join(tmpdir(), "file-service-migrations-"));
  await cp(folder, copy, { recursive: true });
  const journalFile = path.join(copy, "meta/_journal.json");
  const journal = JSON.parse(await readFile(journalFile, "utf8")) as Journal;
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  if (last < 0) throw new Error(`no migration ${lastTag} in ${folder}`);
  journal.entries = journal.entries.slice(0, last + 1);
  await writeFile(journalFile, JSON.stringify(journal));
  return { folder: copy, discard: () => rm(copy, { recursive: true, force: true }) };
}

/** One call of every repository operation, for checks that must hold for all of them. */
export function everyOperation(repo: FileRepository, owner: string): Array<() => Promise<unknown>> {
  return [
    () => repo.ping(),
    () => repo.insertPending([newRecord(owner)]),
    () => repo.findByIds(owner, [uuidv7()]),
    () => repo.markUploaded(owner, [uuidv7()], new Date()),
    () => repo.markDeleted(owner, [uuidv7()], new Date()),
    () => repo.list({ ownerId: owner, statuses: ["pending"], limit: 1 }),
    () => repo.countByStatus(),
    () => repo.insertUploaded(newUploaded(owner)),
    () => repo.findByContentHash(owner, sha256Of("x")),
    () => repo.requestProcessing(owner, [uuidv7()], { webpQuality: null }, new Date()),
    () => repo.claimProcessing({ workerId: "w", leaseMs: 1_000, limit: 1, now: new Date() }),
    () => repo.completeProcessing(uuidv7(), "w", newResult(uuidv7(), sha256Of("x"), [["thumb", 1]])),
    () => repo.failProcessing(uuidv7(), "w", "error", null),
    () => repo.requeueUnqueued(owner, [uuidv7()], new Date()),
    () => repo.expireDue(new Date(), 1),
    () => repo.storedObjects(uuidv7()),
    () => repo.statusesOf([uuidv7()]),
    () => repo.pageByStatus({ status: "uploaded", limit: 1 }),
    () => repo.markMissing([uuidv7()], new Date()),
    () => repo.claimTasks({ workerId: "w", leaseMs: 1_000, limit: 1, now: new Date(), kinds: ["purge"] }),
    () => repo.completeTask(1, "w"),
    () => repo.failTask(1, "w", "error", null),
    () => repo.enqueueTasks([{ kind: "purge", fileId: null, ownerId: null, payload: null, orderKey: null, dueAt: new Date() }]),
    () => repo.listTasks({ status: "failed", limit: 1 }),
    () => repo.requeueTasks([1], new Date()),
    () => repo.taskStats(new Date()),
  ];
}

/**
 * After the media migration on a database written by the init schema: the old
 * uploaded row reads back with the new columns' defaults, is not due until
 * queued, then claims like any job; new uploads insert normally.
 */
export async function expectUpgradedRows(
  repo: FileRepository,
  owner: string,
  { pendingId, uploadedId }: { pendingId: string; uploadedId: string },
): Promise<void> {
  const [record] = await repo.findByIds(owner, [uploadedId]);
  expect(record).toEqual({
    id: uploadedId,
    ownerId: owner,
    filename: "b.png",
    contentType: "image/png",
    sizeBytes: 2,
    md5: "m",
    status: "uploaded",
    objectKey: "k2",
    createdAt: new Date("2025-01-01T00:00:00.002Z"),
    uploadedAt: new Date("2025-01-01T00:00:01.000Z"),
    deletedAt: null,
    purpose: "unspecified",
    ...unprocessed,
    variants: [],
  });
  const now = new Date();
  expect(await repo.claimProcessing({ workerId: "w", leaseMs: 1_000, limit: 10, now })).toEqual([]);
  expect(await repo.requestProcessing(owner, [pendingId, uploadedId], { webpQuality: null }, now)).toBe(1);
  expect(await repo.claimProcessing({ workerId: "w", leaseMs: 1_000, limit: 10, now })).toMatchObject([
    { fileId: uploadedId, attempts: 1 },
  ]);
  expect(await repo.insertUploaded(newUploaded(owner))).toEqual({ inserted: true });
}
