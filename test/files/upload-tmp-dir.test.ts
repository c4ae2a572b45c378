// The upload folder at start: what a dead process left goes, a live instance's
// files and anything that is not ours stay. Then the real service, started on
// a folder a killed process left files in.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clearDeadUploads, uploadTmpPath } from "../../src/files/upload-tmp-dir.js";
import { startTestService } from "../support/service.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The pid of a process that ran and exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  return child.pid!;
}

describe("the upload folder", () => {
  it("loses only the uploads of processes that no longer run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-uploads-"));
    dirs.push(dir);
    const dead = `file-service-upload-${await deadPid()}-0190a000-0000-7000-8000-000000000001`;
    const live = uploadTmpPath(dir);
    for (const name of [dead, "notes.txt", "file-service-upload-garbage"]) await writeFile(join(dir, name), "x");
    await writeFile(live, "x");
    expect(await clearDeadUploads(dir)).toEqual([dead]);
    expect((await readdir(dir)).sort()).toEqual(["file-service-upload-garbage", "notes.txt", live.slice(dir.length + 1)].sort());
    // A folder that does not exist yet is made.
    expect(await clearDeadUploads(join(dir, "new", "uploads"))).toEqual([]);
  });

  it("is cleared when the service starts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-uploads-"));
    dirs.push(dir);
    const left = `file-service-upload-${await deadPid()}-0190a000-0000-7000-8000-000000000002`;
    await writeFile(join(dir, left), "half an upload");
    const svc = await startTestService({ env: { UPLOAD_TMP_DIR: dir } });
    try {
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await svc.stop();
    }
  });
});
