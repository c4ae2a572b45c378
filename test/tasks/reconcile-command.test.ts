// `npm run reconcile` as an operator runs it: the README's commands as printed
// on the embedded backends under DATA_DIR, then on MariaDB and S3 (s3rver),
// paging through both in pages of two.
import { exec } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createMysqlFileRepository } from "../../src/db/mysql/mysql-file-repository.js";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createLocalObjectStore } from "../../src/storage/local/local-object-store.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { newOwner, newUploaded } from "../support/records.js";
import { readmeBlock } from "../support/readme.js";
import { startS3Server, type S3Server } from "../support/s3-server.js";
import { REPO_ROOT } from "../support/service-process.js";

const sh = promisify(exec);
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Runs `command` (an npm run line) in the repository; stdout without npm's own header lines. */
async function run(command: string, env: Record<string, string>): Promise<string[]> {
  const { stdout } = await sh(command, { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
  return stdout.split("\n").filter((l) => l !== "" && !l.startsWith(">"));
}

const findings = (lines: string[]) => lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);

async function put(objects: ObjectStore, key: string, text: string) {
  const body = Buffer.from(text);
  await objects.put({ key, body, contentType: "text/plain", contentLength: body.length, md5: createHash("md5").update(body).digest("base64") });
}

/** Two uploaded files with their objects, one of which then loses its bytes; returns their ids. */
async function seed(files: FileRepository, objects: ObjectStore) {
  const owner = newOwner();
  const [kept, lost] = [newUploaded(owner), newUploaded(owner)].map((f) => ({ ...f, objectKey: `files/${f.id}/original` }));
  for (const f of [kept!, lost!]) {
    await files.insertUploaded(f);
    await put(objects, f.objectKey, f.id);
  }
  await objects.delete([lost!.objectKey]);
  return { owner, kept: kept!.id, lost: lost!.id };
}

describe("npm run reconcile", () => {
  it("runs as README prints it: a dry run, then --apply, on the embedded backends", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "fs-reconcile-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const files = await createSqliteFileRepository(join(dataDir, "files.db"));
    const objects = await createLocalObjectStore({ dir: join(dataDir, "objects"), publicUrl: "http://localhost:1", secret: "a-url-signing-key-of-at-least-32-bytes" });
    const { lost } = await seed(files, objects);
    const stray = `files/${randomUUID()}/original`;
    const young = `files/${randomUUID()}/original`;
    await put(objects, stray, "written by hand two hours ago");
    await put(objects, young, "landing right now");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(dataDir, "objects", stray), twoHoursAgo, twoHoursAgo);
    await files.close();

    const [dryRun, apply] = readmeBlock("reconcile", "sh")
      .split("\n")
      .map((l) => l.replace(/#.*$/, "").trim())
      .filter(Boolean);
    expect(dryRun).toBe("npm run reconcile");
    expect(apply).toBe("npm run reconcile -- --apply");
    const env = { DATA_DIR: dataDir, DATABASE_URL: "", S3_BUCKET: "" };

    const dry = await run(dryRun!, env);
    expect(dry.at(-1)).toBe("reconcile: 1 orphan objects, 1 missing objects (dry run)");
    expect(findings(dry)).toEqual([
      expect.objectContaining({ finding: "orphan_object", key: stray, file: stray.split("/")[1], fileStatus: null, action: "would remove" }),
      expect.objectContaining({ finding: "missing_object", file: lost, action: "would mark missing" }),
    ]);

    const applied = await run(apply!, env);
    expect(applied.at(-1)).toBe("reconcile: 1 orphan objects, 1 missing objects (applied)");
    expect(findings(applied).map((f) => f.action)).toEqual(["removed", "marked missing"]);
    expect((await run(dryRun!, env)).at(-1)).toBe("reconcile: 0 orphan objects, 0 missing objects (dry run)");

    const after = await createSqliteFileRepository(join(dataDir, "files.db"));
    cleanups.push(() => after.close());
    expect((await after.statusesOf([lost])).get(lost)).toBe("missing");
    expect(await objects.head(stray)).toBeNull();
    expect(await objects.head(young)).not.toBeNull(); // younger than the threshold
  });

  it("pages through MariaDB and S3, writes its counts for Prometheus, and refuses bad flags", async () => {
    let db: TestDatabase | undefined;
    let s3: S3Server | undefined;
    [db, s3] = await Promise.all([createTestDatabase(), startS3Server({ bucket: "reconcile-test" })]);
    cleanups.push(() => db!.drop(), () => s3!.stop());
    const files = await createMysqlFileRepository(db.url);
    cleanups.push(() => files.close());
    const objects = createS3ObjectStore({ bucket: s3.bucket, region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true });
    cleanups.push(async () => objects.close());
    const seeded = await Promise.all([seed(files, objects), seed(files, objects), seed(files, objects)]);
    const strays = Array.from({ length: 5 }, () => `files/${randomUUID()}/thumb`);
    for (const key of strays) await put(objects, key, "stray");

    const dir = await mkdtemp(join(tmpdir(), "fs-reconcile-metrics-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const env = {
      DATABASE_URL: db.url,
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      DATA_DIR: dir,
    };
    const metrics = join(dir, "reconcile.prom");
    const lines = await run(`npm run reconcile -- --apply --older-than 0 --page-size 2 --metrics-file ${metrics}`, env);
    expect(lines.at(-1)).toBe("reconcile: 5 orphan objects, 3 missing objects (applied)");
    expect(findings(lines).filter((f) => f.finding === "orphan_object").map((f) => f.key).sort()).toEqual([...strays].sort());
    expect(findings(lines).filter((f) => f.finding === "missing_object").map((f) => f.file).sort()).toEqual(seeded.map((s) => s.lost).sort());
    const text = await readFile(metrics, "utf8");
    expect(text).toContain('file_service_reconcile_findings{kind="orphan_object",mode="applied"} 5');
    expect(text).toContain('file_service_reconcile_findings{kind="missing_object",mode="applied"} 3');
    for (const s of seeded) expect((await files.statusesOf([s.kept, s.lost])).get(s.lost)).toBe("missing");
    expect((await objects.list({ prefix: "files/", limit: 100 })).objects.map((o) => o.key).sort()).toEqual(seeded.map((s) => `files/${s.kept}/original`).sort());

    const refused = await run("npm run reconcile -- --page-size 0", env).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 2 });
    expect((refused as { stderr: string }).stderr).toContain("--page-size must be a whole number of at least 1");
  });
});
