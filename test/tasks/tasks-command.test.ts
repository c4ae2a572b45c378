// `npm run tasks` as an operator runs it (README, "Operating it"): on the
// embedded database under DATA_DIR, with tasks a worker gave up on.
import { exec } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import { REPO_ROOT } from "../support/service-process.js";

const sh = promisify(exec);
let dataDir: string;
// As README prints them (npm's own "> file-service tasks" header lines dropped).
const run = async (args: string) => {
  const { stdout, stderr } = await sh(`npm run tasks${args ? ` -- ${args}` : ""}`, {
    cwd: REPO_ROOT,
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: "" },
    timeout: 60_000,
  });
  return { stdout: stdout.split("\n").filter((l) => l !== "" && !l.startsWith(">")).join("\n") + "\n", stderr };
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "fs-tasks-"));
  const repo = await createSqliteFileRepository(join(dataDir, "files.db"));
  const now = new Date();
  await repo.enqueueTasks([
    { kind: "purge", fileId: "0190a000-0000-7000-8000-000000000001", ownerId: "demo", payload: null, orderKey: null, dueAt: now },
    { kind: "deliver", fileId: "0190a000-0000-7000-8000-000000000002", ownerId: "demo", payload: "{}", orderKey: null, dueAt: now },
    { kind: "purge", fileId: "0190a000-0000-7000-8000-000000000003", ownerId: "demo", payload: null, orderKey: null, dueAt: now },
  ]);
  const claimed = await repo.claimTasks({ workerId: "w", leaseMs: 60_000, limit: 2, now, kinds: ["purge", "deliver"] });
  for (const t of claimed) await repo.failTask(t.id, "w", `S3 said no\\nto ${t.kind}`, null);
  await repo.close();
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("npm run tasks", () => {
  it("counts the queue, lists failed tasks with file, kind, attempts and error, and re-queues them", async () => {
    const counts = (await run("")).stdout;
    expect(counts).toMatch(/^deliver\tfailed\t1$/m);
    expect(counts).toMatch(/^purge\tfailed\t1$/m);
    expect(counts).toMatch(/^purge\tqueued\t1$/m);

    const failed = (await run("--failed")).stdout.trim().split("\n");
    expect(failed).toEqual([
      "1\tpurge\tfile 0190a000-0000-7000-8000-000000000001\tattempts 1\tS3 said no\\nto purge",
      "2\tdeliver\tfile 0190a000-0000-7000-8000-000000000002\tattempts 1\tS3 said no\\nto deliver",
      "tasks: 2 failed",
    ]);

    expect((await run("--requeue 1 3")).stdout.trim()).toBe("tasks: 1 of 2 re-queued"); // 3 is queued, not failed
    expect((await run("--requeue --all-failed")).stdout.trim()).toBe("tasks: 1 of 1 re-queued");
    expect((await run("--failed")).stdout.trim()).toBe("tasks: 0 failed");
    expect((await run("")).stdout).toMatch(/^purge\tqueued\t2$/m);
  });

  it("refuses what it cannot act on, saying how to call it", async () => {
    const error = await run("--requeue").catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toContain("--requeue takes task ids (from --failed) or --all-failed");
  });
});
