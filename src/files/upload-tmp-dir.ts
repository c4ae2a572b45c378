// Where uploads through the service wait while they arrive: files in a folder
// the service owns (UPLOAD_TMP_DIR), named file-service-upload-<pid>-<uuid> so
// that at start the service can clear what a dead process left (its pid no
// longer runs), without touching another live instance's files on the same
// host or anything else in the folder.
import { randomUUID } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

const PREFIX = "file-service-upload-";
const OURS = /^file-service-upload-(\d+)-[0-9a-f-]{36}$/;

/** A new temp file path for one upload, in `dir`. */
export function uploadTmpPath(dir: string): string {
  return join(dir, `${PREFIX}${process.pid}-${randomUUID()}`);
}

function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates `dir` if needed and removes the upload files of processes that no longer run; returns what it removed. */
export async function clearDeadUploads(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const match = OURS.exec(name);
    if (match && !running(Number(match[1]))) {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
