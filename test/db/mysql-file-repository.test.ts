// MySQL FileRepository against a real MariaDB/MySQL (see test/support/database.ts):
// the shared contract, then what only MySQL has (collations, server-side UTC,
// network failures, the migration runner).
import mysql from "mysql2/promise";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRepository } from "../../src/db/file-repository.js";
import { migrateMysql } from "../../src/db/migrate.js";
import { createMysqlFileRepository, toRepositoryError } from "../../src/db/mysql/mysql-file-repository.js";
import { DependencyUnavailableError } from "../../src/errors.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { describeFileRepository, everyOperation, newOwner, newRecord } from "./file-repository-contract.js";

// A zone far from UTC, with DST, proves timestamps do not depend on the process TZ.
process.env.TZ = "America/St_Johns";

const unreachableUrl = "mysql://root@127.0.0.1:1/x";

describeFileRepository("MySQL", {
  async open() {
    const database = await createTestDatabase();
    const repo = createMysqlFileRepository(database.url, { connectionLimit: 4 });
    return {
      repo,
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
        // status is an ENUM of values the code itself writes; its collation does not matter.
        const [columns] = await raw.query<mysql.RowDataPacket[]>(
          "SELECT column_name AS name, collation_name AS collation FROM information_schema.columns WHERE table_schema = ? AND table_name = 'files' AND collation_name IS NOT NULL AND column_name <> 'status' ORDER BY column_name",
          [database.name],
        );
        expect(Object.fromEntries(columns.map((c) => [c.name, c.collation]))).toEqual({
          content_type: "utf8mb4_bin",
          filename: "utf8mb4_bin",
          id: "ascii_bin",
          md5: "ascii_bin",
          object_key: "utf8mb4_bin",
          owner_id: "utf8mb4_bin",
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
  });

  describe("migrateMysql", () => {
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
