// README's "With real backends", as printed: s3rver, the SQL for the database
// and its user, `cp .env.example .env`, `npm run certs`, `npm run migrate`,
// `npm start`, then the walk-through with the real-backend credentials block in
// place of its first. Run in a directory that mirrors a clone (the repository's
// files linked in), so `.env`, `certs/` and `data/` are the test's own. Only
// ports and the database's name change: s3rver's and the listeners' ports are
// free ones, and the database is this run's own, so runs side by side (and other
// checkouts migrating a `files` database on the same server) do not collide.
import { exec, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { freePort, REPO_ROOT } from "../support/service-process.js";
import { readmeBlock, readmeBlocks } from "../support/readme.js";

const sh = promisify(exec);
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? "mysql://root@127.0.0.1:3306/";
const S3_PORT_AS_PRINTED = "4566";
const DATABASE = `files_readme_${process.pid}`;

let dir: string;
let s3Port: number;
let grpcPort: number;
let httpPort: number;
const children: ChildProcess[] = [];

/** Runs a command line in its own process group (npm → sh → node), keeping its output. */
function background(command: string, env: Record<string, string>) {
  const child = spawn("bash", ["-c", command], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, detached: true });
  children.push(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return {
    async waitFor(pattern: RegExp, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${command}: did not see ${pattern}\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-real-backends-"));
  for (const entry of ["package.json", "package-lock.json", "tsconfig.json", "node_modules", "src", "gen", "scripts", "migrations", "proto", "examples", "web", ".env.example"]) {
    await symlink(join(REPO_ROOT, entry), join(dir, entry));
  }
  [s3Port, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
});

afterAll(async () => {
  for (const child of children) {
    // The whole group, even when its shell is gone: the node it started can outlive it (one did).
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // nothing left in the group
    }
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  }
  if (dir) await rm(dir, { recursive: true, force: true });
  const admin = await mysql.createConnection({ uri: adminUrl });
  await admin.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``).finally(() => admin.end());
});

describe("README: with real backends, on the host", () => {
  it("sets up, starts, and runs the walk-through with the real-backend credentials", async () => {
    const s3rver = readmeBlock("s3rver", "sh").trim();
    expect(s3rver).toContain(`-p ${S3_PORT_AS_PRINTED} `);
    await background(s3rver.replace(`-p ${S3_PORT_AS_PRINTED} `, `-p ${s3Port} `), {}).waitFor(/listening/i);

    const sql = readmeBlock("database-sql", "sql");
    expect(sql).toMatch(/DATABASE IF NOT EXISTS files /);
    const admin = await mysql.createConnection({ uri: adminUrl, multipleStatements: true });
    try {
      await admin.query(sql.replace("DATABASE IF NOT EXISTS files ", `DATABASE IF NOT EXISTS ${DATABASE} `).replace("ON files.*", `ON ${DATABASE}.*`));
    } finally {
      await admin.end();
    }

    // The settings the user copies name s3rver's port and the database as printed: the same changes, by environment.
    const example = /^DATABASE_URL=(.*)$/m.exec(readFileSync(join(REPO_ROOT, ".env.example"), "utf8"))![1]!.trim();
    expect(example).toMatch(/\/files$/);
    const ports = {
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      DATABASE_URL: example.replace(/\/files$/, `/${DATABASE}`),
    };
    const setup = readmeBlock("real-backends", "sh").trim().split("\n");
    expect(setup.at(-1)).toBe("npm start");
    await sh(["set -euo pipefail", ...setup.slice(0, -1)].join("\n"), {
      cwd: dir,
      shell: "/bin/bash",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ports },
      timeout: 60_000,
    });
    // npm start must not install into the linked node_modules (see scripts/ensure-deps.mjs).
    await background("npm start", { ...ports, FILE_SERVICE_SKIP_INSTALL: "1" }).waitFor(/file-service is up[\s\S]*CORS:[^\n]*\n/);

    const [, ...walkthrough] = readmeBlocks("walkthrough");
    const script = ["set -euo pipefail", readmeBlock("real-backends-credentials", "sh"), ...walkthrough].join("\n");
    const { stdout } = await sh(script, {
      cwd: dir,
      shell: "/bin/bash",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ports },
      timeout: 90_000,
    });
    expect(stdout).toMatch(new RegExp(`^file [0-9a-f-]{36}, upload to http://127\\.0\\.0\\.1:${s3Port}/files/`, "m"));
    expect(stdout).toContain("processing: PROCESSING_STATUS_COMPLETED");
    expect(stdout).toContain("download: the original, byte for byte");
    expect(stdout).toMatch(/WEBP thumbnail: \d+ bytes/);
    expect(stdout).toMatch(/FILE_STATUS_UPLOADED large,medium,thumb/);
    expect(stdout).toMatch(/FILE_STATUS_UPLOADED [0-9a-f]{64}/);
    expect(stdout).toMatch(/"status": ?"SERVING"/);
  }, 180_000);
});
