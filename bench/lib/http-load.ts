// Runs the HTTP/1.1 load generator (bench/load/http-load.ts) in its own process.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HttpLoadResult, HttpLoadSpec } from "../load/http-load.js";

export type { HttpLoadRequest, HttpLoadResult, HttpLoadSpec } from "../load/http-load.js";

const run = promisify(execFile);

export async function httpLoad(spec: HttpLoadSpec): Promise<HttpLoadResult> {
  // Through a file: many requests (e.g. distinct tokens) exceed what an environment variable holds.
  const dir = await mkdtemp(join(tmpdir(), "http-load-"));
  try {
    const specFile = join(dir, "spec.json");
    await writeFile(specFile, JSON.stringify(spec));
    const { stdout } = await run(
      process.execPath,
      ["--import", import.meta.resolve("tsx"), join(import.meta.dirname, "../load/http-load.ts")],
      { env: { ...process.env, LOAD_SPEC_FILE: specFile }, maxBuffer: 16 * 1024 * 1024 },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as HttpLoadResult;
    if (result.errors > 0) throw new Error(`${result.errors} calls failed; first: ${result.firstError}`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
