// The chaos harness (issue 11): the audit finds exactly what was planted on a
// clean store, and `npm run chaos -- --smoke` runs as printed in the README,
// prints a summary line that parses, counts seeded damage and fails on it.
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { audit, type AuditTarget } from "../../bench/chaos/audit.js";
import { seedDamage } from "../../bench/chaos/seed.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startS3Server, type S3Server } from "../support/s3-server.js";
import { readmeBlock } from "../support/readme.js";
import { REPO_ROOT } from "../support/service-process.js";

const nobody = { confirmed: [], deleted: [], known: [], batches: [] };

describe("the chaos audit", () => {
  let db: TestDatabase;
  let s3: S3Server;
  let target: AuditTarget;
  beforeAll(async () => {
    [db, s3] = await Promise.all([createTestDatabase(), startS3Server()]);
    target = { databaseUrl: db.url, s3: { endpoint: s3.endpoint, bucket: s3.bucket } };
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), s3?.stop()]);
  });

  it("finds exactly one orphan object and one unqueued file when those were seeded", async () => {
    const clean = await audit(target, nobody, { graceSeconds: 0 });
    expect(clean.orphans.count + clean.unqueued.count).toBe(0);

    const seeded = await seedDamage(target);
    const result = await audit(target, { ...nobody, confirmed: [seeded.unqueuedId] }, { graceSeconds: 0 });
    expect(result.orphans).toEqual({ count: 1, examples: [seeded.orphanKey] });
    expect(result.unqueued).toEqual({ count: 1, examples: [seeded.unqueuedId] });
    // Confirmed by a client, but its original is not in the bucket: lost.
    expect(result.lost).toEqual({ count: 1, examples: [seeded.unqueuedId] });
    for (const other of [result.expired, result.deletedObjects, result.partialBatches, result.tempFiles]) expect(other.count).toBe(0);
  });

  it("counts a batch that was created in part", async () => {
    const seeded = await seedDamage(target);
    const result = await audit(target, { ...nobody, batches: [{ kind: "generate", ids: [seeded.unqueuedId, "no-such-id"], ok: true }] }, { graceSeconds: 0 });
    expect(result.partialBatches.count).toBe(1);
  });
});

describe("README's npm run chaos -- --smoke", () => {
  it("prints a summary line that parses, finds the seeded damage, and exits 1 when it is enforced", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // As printed, plus the flags that plant damage and enforce finding it.
      const command = `${readmeBlock("chaos", "sh").trim()} --seed --enforce orphans,unqueued`;
      expect(command).toMatch(/^npm run chaos -- --smoke /);
      const child = execFile("sh", ["-c", command], { cwd: REPO_ROOT, timeout: 150_000 }, () => undefined);
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
    const last = stdout.trim().split("\n").at(-1)!;
    let summary;
    try {
      summary = JSON.parse(last);
    } catch {
      throw new Error(`no summary line (exit ${code})\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-3000)}`);
    }
    expect(summary.chaos).toBe("summary");
    expect(summary.calls).toBeGreaterThan(0);
    expect(summary.audit.orphans.examples.length).toBeGreaterThan(0);
    expect(summary.audit.orphans.count).toBeGreaterThanOrEqual(1);
    expect(summary.audit.unqueued.count).toBeGreaterThanOrEqual(1);
    expect(summary.audit.orphans.examples).toContain(summary.seeded.orphanKey);
    expect(summary.audit.unqueued.examples).toContain(summary.seeded.unqueuedId);
    expect(summary.failed).toEqual(expect.arrayContaining(["orphans", "unqueued"]));
    expect(summary.recoveries.map((r: { kind: string }) => r.kind)).toEqual(["db-cut", "db-stall", "s3-cut", "s3-stall", "sigkill", "sigterm"]);
    expect(code).toBe(1);
  }, 180_000);
});
