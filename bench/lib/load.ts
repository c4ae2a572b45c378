// Runs the gRPC load generator (bench/load/grpc-load.ts) in its own process.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { LoadSpec } from "../load/grpc-load.js";
import type { LoadResult } from "../load/closed-loop.js";
import type { Pki } from "../../test/support/service.js";

export type { LoadCall, LoadSpec } from "../load/grpc-load.js";
export type { LoadResult } from "../load/closed-loop.js";

const run = promisify(execFile);

export async function grpcLoad(spec: Omit<LoadSpec, "ca" | "cert" | "key">, pki: Pki): Promise<LoadResult> {
  const full: LoadSpec = { ...spec, ca: pki.ca, cert: pki.hangout.cert, key: pki.hangout.key };
  const { stdout } = await run(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), join(import.meta.dirname, "../load/grpc-load.ts")],
    { env: { ...process.env, LOAD_SPEC: JSON.stringify(full) }, maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as LoadResult;
  if (result.errors > 0) throw new Error(`${result.errors} calls failed; first: ${result.firstError}`);
  return result;
}
