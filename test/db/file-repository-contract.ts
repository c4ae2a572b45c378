// The behaviour every FileRepository must have, run against each implementation
// (test/db/*-file-repository.test.ts) so MySQL and SQLite cannot drift apart.
import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRecord, FileRepository, NewFileRecord } from "../../src/db/file-repository.js";
import { DependencyUnavailableError } from "../../src/errors.js";

export interface OpenedRepository {
  repo: FileRepository;
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

// Each test uses its own owner, so tests sharing the database cannot see each other.
export const newOwner = () => `owner-${randomUUID()}`;

export function newRecord(ownerId: string, overrides: Partial<NewFileRecord> = {}): NewFileRecord {
  const id = overrides.id ?? uuidv7();
  return {
    id,
    ownerId,
    filename: "report.pdf",
    contentType: "application/pdf",
    sizeBytes: 1234,
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    objectKey: `${ownerId}/${id}`,
    createdAt: new Date("2025-01-02T03:04:05.678Z"),
    ...overrides,
  };
}

/** Records with strictly increasing ids, as UUIDv7 generation gives them. */
export function newRecords(ownerId: string, count: number): NewFileRecord[] {
  return Array.from({ length: count }, () => newRecord(ownerId)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export const idsOf = (records: readonly { id: string }[]) => records.map((r) => r.id);

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
            .map((r) => ({ ...r, status: "pending", uploadedAt: null, deletedAt: null })),
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
        const ids = idsOf(records);
        const at = new Date();

        // Owner ids compare exactly: a differently cased id is another owner.
        for (const intruder of [newOwner(), owner.toUpperCase(), `${owner}x`]) {
          expect(await repo.findByIds(intruder, ids)).toEqual([]);
          expect(await repo.markUploaded(intruder, ids, at)).toBe(0);
          expect(await repo.markDeleted(intruder, ids, at)).toBe(0);
          expect(
            await repo.list({ ownerId: intruder, statuses: ["pending", "uploaded", "deleted"], limit: 10 }),
          ).toEqual([]);
        }

        const untouched = await repo.findByIds(owner, ids);
        expect(untouched.map((r) => [r.status, r.uploadedAt, r.deletedAt])).toEqual([
          ["pending", null, null],
          ["pending", null, null],
        ]);
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
          expect(await empty.repo.countByStatus()).toEqual({ pending: 0, uploaded: 0, deleted: 0 });
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
  ];
}
