// SQLite/libSQL FileRepository on temporary files: the shared contract, then what
// only the embedded database has (the file itself, migrations at open, locking).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Client, createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileStatus } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createSqliteFileRepository, toRepositoryError } from "../../src/db/sqlite/sqlite-file-repository.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { causeCodes, describeFileRepository, expectUpgradedRows, migrationsUpTo, migrationTags } from "./file-repository-contract.js";
import { idsOf, newOwner, newRecord, newRecords } from "../support/records.js";

const migrationsFolder = path.join(import.meta.dirname, "../../migrations/sqlite");
const allMigrations = await migrationTags(migrationsFolder);

// A zone far from UTC, with DST, proves timestamps do not depend on the process TZ.
process.env.TZ = "America/St_Johns";

let root: string;
let fileCount = 0;
/** A path for a new database file, in a directory that does not exist yet. */
const newFile = () => path.join(root, `db-${++fileCount}`, "files.db");

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "file-service-sqlite-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describeFileRepository("SQLite", {
  async open() {
    const file = newFile();
    const repo = await createSqliteFileRepository(file);
    return { repo, another: () => createSqliteFileRepository(file), close: () => repo.close() };
  },
  // A closed client: every query fails as the file being unreachable would.
  async openUnreachable() {
    const repo = await createSqliteFileRepository(newFile());
    await repo.close();
    return repo;
  },
  duplicateKeyCode: "SQLITE_CONSTRAINT",
});

/** A second, raw connection to the file, as another process would have. */
async function withRaw<T>(file: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient({ url: pathToFileURL(file).href });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

const appliedMigrations = (file: string) =>
  withRaw(file, async (raw) => (await raw.execute("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id")).rows);

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
}

describe("SQLite only", () => {
  describe("opening", () => {
    it("creates the file and its missing parent directories", async () => {
      const file = path.join(root, "a", "b", "c", "files.db");
      const repo = await createSqliteFileRepository(file);
      try {
        expect(existsSync(file)).toBe(true);
        await repo.ping();
      } finally {
        await repo.close();
      }
    });

    it("resolves a relative path against the cwd, but finds its migrations wherever the cwd is", async () => {
      const cwd = process.cwd();
      const dir = path.join(root, "cwd");
      await mkdir(dir);
      process.chdir(dir);
      try {
        const repo = await createSqliteFileRepository("data/files.db");
        await repo.close();
      } finally {
        process.chdir(cwd);
      }
      expect(await appliedMigrations(path.join(dir, "data/files.db"))).toHaveLength(allMigrations.length);
    });

    it("applies migrations at open, once: reopening applies nothing and keeps the data", async () => {
      const file = newFile();
      const owner = newOwner();
      const records = newRecords(owner, 3);
      const first = await createSqliteFileRepository(file);
      try {
        await first.insertPending(records);
        await first.markUploaded(owner, [records[0]!.id], new Date("2025-04-01T00:00:00.123Z"));
      } finally {
        await first.close();
      }
      const applied = await appliedMigrations(file);
      expect(applied.length).toBeGreaterThan(0);

      const second = await createSqliteFileRepository(file);
      try {
        expect(await appliedMigrations(file)).toEqual(applied);
        const found = await second.list({ ownerId: owner, statuses: ["pending", "uploaded"], limit: 10 });
        expect(idsOf(found)).toEqual(idsOf(records).reverse());
        expect(found.at(-1)).toMatchObject({ status: "uploaded", uploadedAt: new Date("2025-04-01T00:00:00.123Z") });
      } finally {
        await second.close();
      }
    });

    it("opens one fresh file several times at once", async () => {
      const file = newFile();
      const repos = await Promise.all(Array.from({ length: 4 }, () => createSqliteFileRepository(file)));
      try {
        expect(await appliedMigrations(file)).toHaveLength(allMigrations.length);
        await Promise.all(repos.map((repo) => repo.insertPending([newRecord(newOwner())])));
        expect((await repos[0]!.countByStatus()).pending).toBe(4);
      } finally {
        await Promise.all(repos.map((repo) => repo.close()));
      }
    });

    it("upgrades a file of the first release: existing rows get the defaults and work", async () => {
      expect(allMigrations[0]).toBe("0000_init");
      const file = newFile();
      await mkdir(path.dirname(file), { recursive: true });
      const init = await migrationsUpTo(migrationsFolder, "0000_init");
      const owner = newOwner();
      const [pendingId, uploadedId] = [uuidv7(), uuidv7()];
      try {
        await withRaw(file, async (raw) => {
          await migrate(drizzle({ client: raw }), { migrationsFolder: init.folder });
          // Rows as the first release wrote them.
          await raw.execute({
            sql: "INSERT INTO files (id, owner_id, filename, content_type, size_bytes, md5, status, object_key, created_at, uploaded_at) VALUES (?, ?, 'a.pdf', 'application/pdf', 1, 'm', 'pending', 'k1', 1735689600001, NULL), (?, ?, 'b.png', 'image/png', 2, 'm', 'uploaded', 'k2', 1735689600002, 1735689601000)",
            args: [pendingId, owner, uploadedId, owner],
          });
        });
      } finally {
        await init.discard();
      }

      const repo = await createSqliteFileRepository(file);
      try {
        expect(await appliedMigrations(file)).toHaveLength(allMigrations.length);
        await expectUpgradedRows(repo, owner, { pendingId, uploadedId });
      } finally {
        await repo.close();
      }
    });

    it("puts the file in WAL mode", async () => {
      const file = newFile();
      await (await createSqliteFileRepository(file)).close();
      expect(await withRaw(file, async (raw) => (await raw.execute("PRAGMA journal_mode")).rows[0]?.[0])).toBe("wal");
    });

    it("reports a path it cannot open or create as DependencyUnavailableError", async () => {
      const regularFile = path.join(root, "regular-file");
      await writeFile(regularFile, "not a database, and not a directory ".repeat(50));
      const directory = path.join(root, "a-directory");
      await mkdir(directory);
      for (const file of [
        path.join(regularFile, "files.db"), // its parent cannot be created
        directory, // SQLite cannot open a directory
        regularFile, // the path holds something else
      ]) {
        const error = await failureOf(createSqliteFileRepository(file));
        expect(error, file).toBeInstanceOf(DependencyUnavailableError);
        expect((error as DependencyUnavailableError).dependency).toBe("database");
      }
    });
  });

  describe("storage", () => {
    it("stores timestamps as epoch milliseconds and only the known statuses and purposes", async () => {
      const file = newFile();
      const repo = await createSqliteFileRepository(file);
      try {
        const owner = newOwner();
        const createdAt = new Date("2025-03-09T06:30:00.999Z");
        const { id } = newRecord(owner);
        await repo.insertPending([newRecord(owner, { id, createdAt })]);

        await withRaw(file, async (raw) => {
          const row = (await raw.execute({ sql: "SELECT created_at FROM files WHERE id = ?", args: [id] })).rows[0];
          expect(row?.created_at).toBe(createdAt.getTime());
          for (const column of ["status", "purpose", "processing_status"]) {
            const error = await failureOf(raw.execute({ sql: `UPDATE files SET ${column} = 'archived' WHERE id = ?`, args: [id] }));
            expect(causeCodes(error), column).toContain("SQLITE_CONSTRAINT");
          }
        });
      } finally {
        await repo.close();
      }
    });
  });

  describe("concurrency", () => {
    let file: string;
    let repo: FileRepository;

    beforeAll(async () => {
      file = newFile();
      repo = await createSqliteFileRepository(file);
    });

    afterAll(async () => {
      await repo?.close();
    });

    it("serves many parallel calls, including writes, without lock errors", async () => {
      const owners = Array.from({ length: 50 }, () => newOwner());
      const batches = owners.map((owner) => newRecords(owner, 3));
      const started = performance.now();
      // Every caller inserts, moves and reads its own records while the others do the same.
      await Promise.all(
        batches.map(async (records, i) => {
          const owner = owners[i]!;
          const [a, b] = idsOf(records) as [string, string];
          await repo.insertPending(records);
          await Promise.all([
            repo.markUploaded(owner, [a], new Date()),
            repo.markDeleted(owner, [b], new Date()),
            repo.list({ ownerId: owner, statuses: ["pending"], limit: 10 }),
            repo.countByStatus(),
            repo.ping(),
          ]);
        }),
      );
      // Interactive transactions across awaits would busy-wait here for seconds, then fail.
      expect(performance.now() - started).toBeLessThan(5_000);
      const expected: Record<FileStatus, number> = { pending: 50, uploaded: 50, deleted: 50, expired: 0, quarantined: 0, missing: 0 };
      expect(await repo.countByStatus()).toEqual(expected);
    });

    it("shares the file with a second repository writing at the same time", async () => {
      const other = await createSqliteFileRepository(file);
      try {
        const owner = newOwner();
        const records = newRecords(owner, 40);
        await Promise.all(records.map((record, i) => (i % 2 ? repo : other).insertPending([record])));
        await Promise.all(records.map((record, i) => (i % 2 ? other : repo).markUploaded(owner, [record.id], new Date())));
        expect(await repo.list({ ownerId: owner, statuses: ["uploaded"], limit: 100 })).toHaveLength(40);
      } finally {
        await other.close();
      }
    });

    it("fails a write as DependencyUnavailableError when another connection holds the lock past the busy timeout", async () => {
      const locked = newFile();
      const repo = await createSqliteFileRepository(locked, { busyTimeoutMs: 200 });
      const owner = newOwner();
      const [record] = newRecords(owner, 1);
      await repo.insertPending([record!]);
      try {
        await withRaw(locked, async (raw) => {
          const tx = await raw.transaction("write"); // BEGIN IMMEDIATE: holds the write lock
          try {
            const started = performance.now();
            const error = await failureOf(repo.markUploaded(owner, [record!.id], new Date()));
            expect(error).toBeInstanceOf(DependencyUnavailableError);
            expect(causeCodes(error)).toContain("SQLITE_BUSY");
            expect(performance.now() - started).toBeGreaterThanOrEqual(150);
            // WAL: readers are not blocked by the writer.
            expect(await repo.findByIds(owner, [record!.id])).toHaveLength(1);
          } finally {
            await tx.rollback();
          }
        });
        expect(await repo.markUploaded(owner, [record!.id], new Date())).toBe(1);
      } finally {
        await repo.close();
      }
    });
  });

  describe("error classification", () => {
    it("classifies libsql errors by code, through drizzle's wrapping", () => {
      const libsqlError = (code: string) => Object.assign(new Error(`${code}: ...`), { code });
      const wrapped = (cause: Error) => new Error("Failed query: ...", { cause });
      for (const error of [
        wrapped(libsqlError("SQLITE_BUSY")),
        wrapped(libsqlError("SQLITE_CANTOPEN")),
        wrapped(libsqlError("SQLITE_IOERR")),
        libsqlError("CLIENT_CLOSED"),
        wrapped(Object.assign(new Error('ConnectionFailed("Unable to open connection to local database /x: 14")'), { code: "" })),
        Object.assign(new Error("EACCES: permission denied, mkdir '/x'"), { code: "EACCES", syscall: "mkdir" }),
      ]) {
        expect(toRepositoryError(error)).toBeInstanceOf(DependencyUnavailableError);
      }
      for (const error of [wrapped(libsqlError("SQLITE_CONSTRAINT")), libsqlError("SQLITE_ERROR"), new TypeError("bug")]) {
        expect(toRepositoryError(error)).toBe(error);
      }
    });
  });

  it("rejects a duplicate id without touching the stored record", async () => {
    const repo = await createSqliteFileRepository(newFile());
    try {
      const owner = newOwner();
      const record = newRecord(owner, { id: uuidv7() });
      await repo.insertPending([record]);
      const error = await failureOf(repo.insertPending([{ ...record, filename: "again" }]));
      expect(causeCodes(error)).toContain("SQLITE_CONSTRAINT_PRIMARYKEY");
    } finally {
      await repo.close();
    }
  });
});
