// A throwaway, fully migrated MySQL/MariaDB database per test file (or suite).
// Admin connection: TEST_DATABASE_ADMIN_URL, default the local MariaDB's root.
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { migrateMysql } from "../../src/db/migrate.js";

export interface TestDatabase {
  /** URL of the new database, for the code under test. */
  url: string;
  name: string;
  /** Drops the database; safe to call more than once. */
  drop(): Promise<void>;
}

const defaultAdminUrl = "mysql://root@127.0.0.1:3306/test";

export interface CreateTestDatabaseOptions {
  /** Apply migrations/mysql (default true); false gives an empty database. */
  migrate?: boolean;
}

export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? defaultAdminUrl;
  // Only [a-z0-9_]: the name is interpolated into DDL.
  const name = `fs_test_${randomBytes(6).toString("hex")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;

  // The server's default (case-insensitive) collation, as a production database
  // would have: the schema must not depend on the database's defaults.
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`));
  const drop = () => withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS \`${name}\``));
  try {
    if (options.migrate ?? true) await migrateMysql(url.href);
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: url.href, name, drop: async () => void (await drop()) };
}

async function withAdmin<T>(adminUrl: string, use: (admin: mysql.Connection) => Promise<T>): Promise<T> {
  // The admin URL's database may not exist (e.g. MySQL 8 has no "test"); none is needed.
  const url = new URL(adminUrl);
  url.pathname = "/";
  const admin = await mysql.createConnection({ uri: url.href, connectTimeout: 5_000 });
  try {
    return await use(admin);
  } finally {
    await admin.end();
  }
}
