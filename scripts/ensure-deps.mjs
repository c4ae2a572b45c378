// `npm start` on a fresh clone: install dependencies first when they are
// missing or older than the lock file. Plain JS, since tsx may not exist yet.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};
const installed = mtime("node_modules/.package-lock.json");
// Tests that run `npm start` set this: an install started under a test (after a
// checkout changed the lock) would outlive it and empty node_modules mid-run.
const skip = process.env.FILE_SERVICE_SKIP_INSTALL === "1";
if (!skip && (installed === undefined || installed < (mtime("package-lock.json") ?? 0))) {
  process.stderr.write("file-service: installing dependencies (npm ci)...\n");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// The web app served at `/`: built into web/dist when missing or older than its sources.
const newest = (dir) => {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, mtime(join(entry.parentPath, entry.name)) ?? 0);
  }
  return latest;
};
const built = mtime("web/dist/index.html");
const sources = Math.max(newest("web/src"), newest("gen"), mtime("web/index.html") ?? 0, mtime("web/build.mjs") ?? 0);
if (built === undefined || built < sources) {
  process.stderr.write("file-service: building the web app (web/dist)...\n");
  const result = spawnSync(process.execPath, ["web/build.mjs"], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
