// MySQL FileRepository against a real MariaDB/MySQL (see test/support/database.ts):
// the shared contract, then what only MySQL has (collations, server-side UTC,
// network failures, the migration runner).
import path from "node:path";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { migrateMysql } from "../../src/db/migrate.js";
import {
  createMysqlFileRepository,
  isDedupConflict,
  toRepositoryError,
} from "../../src/db/mysql/mysql-file-repository.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { describeFileRepository, everyOperation, expectUpgradedRows, migrationsUpTo, migrationTags } from "./file-repository-contract.js";
import { newOwner, newRecord } from "../support/records.js";

const migrationsFolder = path.join(import.meta.dirname, "../../migrations/mysql");

// A zone far from UTC, with DST, proves timestamps do not depend on the process TZ.
process.env.TZ = "America/St_Johns";

const unreachableUrl = "mysql://root@127.0.0.1:1/x";

describeFileRepository("MySQL", {
  async open() {
    const database = await createTestDatabase();
    const repo = createMysqlFileRepository(database.url, { connectionLimit: 4 });
    return {
      repo,
      another: async () => createMysqlFileRepository(database.url, { connectionLimit: 4 }),
      close: async () => {
        await repo.close();
        await database.drop();
      },
    };
  },
  // Nothing listens on port 1.
  openUnreachable: async () => createMysqlFileRepository(unreachableUrl),
  duplicateKeyCode: "ER_DUP_ENTRY",
});

describe("MySQL only", () => {
  let database: TestDatabase;
  let repo: FileRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    repo = createMysqlFileRepository(database.url, { connectionLimit: 4 });
  });

  afterAll(async () => {
    await repo?.close();
    await database?.drop();
  });

  describe("collation", () => {
    it("compares text columns bytewise although the database default is case-insensitive", async () => {
      const raw = await mysql.createConnection(database.url);
      try {
        const [[defaults]] = await raw.query<mysql.RowDataPacket[]>("SELECT @@collation_database AS c");
        expect(defaults?.c).not.toMatch(/_bin$/); // the precondition: a server default that would not do
        // ENUMs hold values the code itself writes; their collation does not matter.
        const [columns] = await raw.query<mysql.RowDataPacket[]>(
          "SELECT table_name AS t, column_name AS c, collation_name AS collation FROM information_schema.columns WHERE table_schema = ? AND collation_name IS NOT NULL AND data_type <> 'enum' AND table_name NOT LIKE '\\_\\_%' ORDER BY table_name, column_name",
          [database.name],
        );
        expect(Object.fromEntries(columns.map((c) => [`${c.t}.${c.c}`, c.collation]))).toEqual({
          "file_variants.content_type": "utf8mb4_bin",
          "file_variants.file_id": "ascii_bin",
          "file_variants.name": "ascii_bin",
          "file_variants.object_key": "utf8mb4_bin",
          "files.blurhash": "ascii_bin",
          "files.content_type": "utf8mb4_bin",
          "files.dedup_sha256": "ascii_bin",
          "files.filename": "utf8mb4_bin",
          "files.id": "ascii_bin",
          "files.idempotency_fingerprint": "ascii_bin",
          "files.idempotency_key": "utf8mb4_bin",
          "files.md5": "ascii_bin",
          "files.object_key": "utf8mb4_bin",
          "files.owner_id": "utf8mb4_bin",
          "files.processing_error": "utf8mb4_bin",
          "files.scan_error": "utf8mb4_bin",
          "files.scan_signature": "utf8mb4_bin",
          "files.processing_locked_by": "utf8mb4_bin",
          "files.sha256": "ascii_bin",
          "tasks.file_id": "ascii_bin",
          "tasks.kind": "ascii_bin",
          "tasks.last_error": "utf8mb4_bin",
          "tasks.locked_by": "utf8mb4_bin",
          "tasks.order_key": "utf8mb4_bin",
          "tasks.owner_id": "utf8mb4_bin",
          "tasks.payload": "utf8mb4_bin",
        });
      } finally {
        await raw.end();
      }
    });
  });

  describe("timestamps", () => {
    it("are stored as UTC wall time, whatever the process time zone", async () => {
      expect(new Date("2025-07-01T00:00:00Z").getTimezoneOffset()).not.toBe(0); // the TZ above took effect
      const owner = newOwner();
      const { id } = newRecord(owner);
      await repo.insertPending([newRecord(owner, { id, createdAt: new Date("2025-03-09T06:30:00.999Z") })]);
      await repo.markUploaded(owner, [id], new Date("2025-11-02T04:59:59.001Z"));
      await repo.markDeleted(owner, [id], new Date("2030-12-31T23:59:59.457Z"));

      // What the server holds is UTC wall time (other readers, e.g. SQL reports, see UTC).
      const raw = await mysql.createConnection(database.url);
      try {
        const [rows] = await raw.query<mysql.RowDataPacket[]>(
          "SELECT CAST(created_at AS CHAR) AS c, CAST(uploaded_at AS CHAR) AS u, CAST(deleted_at AS CHAR) AS d FROM files WHERE id = ?",
          [id],
        );
        expect(rows[0]).toEqual({ c: "2025-03-09 06:30:00.999", u: "2025-11-02 04:59:59.001", d: "2030-12-31 23:59:59.457" });
      } finally {
        await raw.end();
      }
    });
  });

  describe("database failures", () => {
    it("reports an unreachable database quickly as DependencyUnavailableError", async () => {
      const unreachable = createMysqlFileRepository(unreachableUrl);
      try {
        const owner = newOwner();
        const operations = everyOperation(unreachable, owner);
        for (const operation of operations) {
          const started = performance.now();
          const error: unknown = await operation().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(DependencyUnavailableError);
          expect((error as DependencyUnavailableError).dependency).toBe("database");
          expect(performance.now() - started).toBeLessThan(2_000);
        }
      } finally {
        await unreachable.close();
      }
    });

    it("reports a missing database as DependencyUnavailableError", async () => {
      const url = new URL(database.url);
      url.pathname = `/${database.name}_missing`;
      const missing = createMysqlFileRepository(url.href);
      try {
        await expect(missing.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
      } finally {
        await missing.close();
      }
    });

    it("classifies driver errors by code, through drizzle's wrapping", () => {
      const driverError = (code: string, fatal = false) => Object.assign(new Error(code), { code, fatal });
      const wrapped = (cause: Error) => new Error("Failed query: ...", { cause });
      for (const code of ["ER_LOCK_WAIT_TIMEOUT", "ER_LOCK_DEADLOCK", "ER_CON_COUNT_ERROR", "PROTOCOL_CONNECTION_LOST"]) {
        expect(toRepositoryError(wrapped(driverError(code)))).toBeInstanceOf(DependencyUnavailableError);
      }
      expect(toRepositoryError(driverError("ER_SOMETHING_NEW", true))).toBeInstanceOf(DependencyUnavailableError);
      for (const error of [wrapped(driverError("ER_DUP_ENTRY")), driverError("ER_PARSE_ERROR"), new TypeError("bug")]) {
        expect(toRepositoryError(error)).toBe(error);
      }
    });

    it("tells a duplicate upload (the dedup key) from a duplicate id, on MariaDB and MySQL 8", () => {
      const duplicate = (key: string) =>
        new Error("Failed query: ...", {
          cause: Object.assign(new Error(`Duplicate entry 'o-${"ab".repeat(32)}' for key '${key}'`), { code: "ER_DUP_ENTRY" }),
        });
      expect(isDedupConflict(duplicate("files_owner_id_dedup_sha256_key"))).toBe(true); // MariaDB
      expect(isDedupConflict(duplicate("files.files_owner_id_dedup_sha256_key"))).toBe(true); // MySQL 8
      expect(isDedupConflict(duplicate("PRIMARY"))).toBe(false);
      expect(isDedupConflict(duplicate("files.PRIMARY"))).toBe(false);
      expect(isDedupConflict(new Error("Duplicate entry 'x' for key 'files_owner_id_dedup_sha256_key'"))).toBe(false);
    });
  });

  describe("migrateMysql", () => {
    it("upgrades a database of the first release: existing rows get the defaults and work", async () => {
      const tags = await migrationTags(migrationsFolder);
      expect(tags[0]).toBe("0000_init");
      const old = await createTestDatabase({ migrate: false });
      const init = await migrationsUpTo(migrationsFolder, "0000_init");
      const conn = await mysql.createConnection(old.url);
      const upgraded = createMysqlFileRepository(old.url, { connectionLimit: 2 });
      try {
        await migrate(drizzle({ client: conn }), { migrationsFolder: init.folder });
        const owner = newOwner();
        const [pendingId, uploadedId] = [uuidv7(), uuidv7()];
        // Rows as the first release wrote them.
        await conn.query(
          "INSERT INTO files (id, owner_id, filename, content_type, size_bytes, md5, status, object_key, created_at, uploaded_at) VALUES (?, ?, 'a.pdf', 'application/pdf', 1, 'm', 'pending', 'k1', '2025-01-01 00:00:00.001', NULL), (?, ?, 'b.png', 'image/png', 2, 'm', 'uploaded', 'k2', '2025-01-01 00:00:00.002', '2025-01-01 00:00:01.000')",
          [pendingId, owner, uploadedId, owner],
        );

        await migrateMysql(old.url);
        const [applied] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM __drizzle_migrations");
        expect(Number(applied[0]?.n)).toBe(tags.length);

        await expectUpgradedRows(upgraded, owner, { pendingId, uploadedId });
      } finally {
        await upgraded.close();
        await conn.end();
        await init.discard();
        await old.drop();
      }
    });

    it("applies migrations once; later runs, even concurrent ones, change nothing", async () => {
      const empty = await createTestDatabase({ migrate: false });
      const conn = await mysql.createConnection(empty.url);
      try {
        const applied = async () =>
          (await conn.query<mysql.RowDataPacket[]>("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id"))[0];

        await Promise.all([migrateMysql(empty.url), migrateMysql(empty.url)]);
        const first = await applied();
        expect(first.length).toBeGreaterThan(0);

        await conn.query(
          "INSERT INTO files (id, owner_id, filename, content_type, size_bytes, md5, status, object_key, created_at) VALUES (?, 'o', 'f', 't', 1, 'm', 'pending', 'k', NOW(3))",
          [uuidv7()],
        );
        await migrateMysql(empty.url);
        expect(await applied()).toEqual(first);
        const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM files");
        expect(Number(rows[0]?.n)).toBe(1);
      } finally {
        await conn.end();
        await empty.drop();
      }
    });
  });
});
