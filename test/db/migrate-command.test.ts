// `npm run migrate` as an operator runs it: with the README's SQL for the
// database and its user, and with credentials that do not get in (the message
// must say which user, host and database it tried, never the password).
import { exec } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { REPO_ROOT } from "../support/service-process.js";
import { readmeBlock } from "../support/readme.js";

const sh = promisify(exec);
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? "mysql://root@127.0.0.1:3306/";

async function migrate(databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await sh("npm run -s migrate", { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("npm run migrate", () => {
  it("works with .env.example's DATABASE_URL once the README's SQL has run", async () => {
    const admin = await mysql.createConnection({ uri: adminUrl, multipleStatements: true });
    try {
      await admin.query(readmeBlock("database-sql", "sql"));
    } finally {
      await admin.end();
    }
    const example = readFileSync(join(REPO_ROOT, ".env.example"), "utf8");
    const databaseUrl = /^DATABASE_URL=(.*)$/m.exec(example)![1]!.trim();
    const result = await migrate(databaseUrl);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^migrate: (applied .+|database is up to date)\n$/);
  }, 90_000);

  it("names the user, host and database it could not get in with, never the password", async () => {
    const result = await migrate("mysql://nobody_here:S3cret-pass@127.0.0.1:3306/no_such_db");
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^migrate: user "nobody_here" at 127\.0\.0\.1:3306, database "no_such_db" was refused: Access denied/);
    expect(lines[0]).toContain("README.md");
    expect(result.stderr + result.stdout).not.toContain("S3cret-pass");
  }, 60_000);
});
