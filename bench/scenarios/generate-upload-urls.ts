// Scenario 2: GenerateUploadURLs of 10 files over gRPC + mTLS, 64 calls in
// flight, against the ceiling of what it must do in the database: raw mysql2
// `BEGIN; one 10-row INSERT; COMMIT` at the same concurrency, in its own
// process, against the same database with the same row shape
// (bench/peers/mysql-insert-ceiling.ts). The load generator is grpc-js in its
// own process (bench/load/grpc-load.ts).
//
// BENCH_CPU_PROF=<dir>: the service runs with --cpu-prof, its profile written to <dir> at exit.
// BENCH_ONLY=<substring>: run only the variants whose name contains it (profiling runs; results
// go to <scenario>.partial.json).
// Service settings can be passed through as BENCH_SERVICE_ENV='{"KEY":"value"}'.
// BENCH_BASELINE_TREE=<dir>: also the service of another checkout (bench/lib/baseline-tree.ts):
// a before/after pair in one run.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { alternate, median, report, SMOKE, summarize, type Variant } from "../lib/measure.js";
import { grpcLoad, type LoadResult } from "../lib/load.js";
import { loadServiceEnv, printProfileWindow, startStack } from "../lib/stack.js";
import { startBaselineService, type BaselineService } from "../lib/baseline-tree.js";
import { cpuSeconds } from "../peers/process.js";
import { measureGenerateUploadLayers } from "../lib/generate-upload-layers.js";
import type { CeilingSpec } from "../peers/mysql-insert-ceiling.js";

const FILES_PER_CALL = 10;
const IN_FLIGHT = 64;
const CHANNELS = 4;
const DURATION_MS = SMOKE ? 300 : Number(process.env.BENCH_DURATION_MS ?? 4000);
const WARMUP_MS = SMOKE ? 200 : 1000;

const serviceEnv = loadServiceEnv();
const spawnedAt = performance.now();
const stack = await startStack(serviceEnv);
let baseline: BaselineService | undefined;
try {
  baseline = await startBaselineService(stack, serviceEnv);
  // A few distinct requests, each a valid batch of 10 (the ids are the server's).
  const requests = Array.from({ length: 8 }, (_, r) => ({
    ownerId: `bench-owner-${r}`,
    files: Array.from({ length: FILES_PER_CALL }, (_, i) => ({
      filename: `photo-${r}-${i}.jpg`,
      contentType: "image/jpeg",
      sizeBytes: 100_000 + i,
      md5: randomBytes(16).toString("base64"),
      purpose: "FILE_PURPOSE_POST_ATTACHMENT",
    })),
  }));
  const servicePid = stack.service.child.pid!;
  const details = new Map<string, Array<LoadResult & { serverCpuUsPerCall?: number }>>();
  const record = (name: string, result: LoadResult & { serverCpuUsPerCall?: number }) => {
    const list = details.get(name) ?? [];
    list.push(result);
    details.set(name, list);
    return result.perSecond;
  };

  const SERVICE = `GenerateUploadURLs x${FILES_PER_CALL} (service)`;
  const CEILING = `raw mysql2 BEGIN; ${FILES_PER_CALL}-row INSERT; COMMIT`;
  const ceilingProtocol = process.env.BENCH_CEILING_PROTOCOL === "query" ? "query" : "execute";
  const serviceVariant = (name: string, port: number, pid: number): Variant => ({
    name,
    async run() {
      const cpuBefore = await cpuSeconds(pid);
      const result = await grpcLoad(
        {
          target: `127.0.0.1:${port}`,
          channels: CHANNELS,
          inFlight: IN_FLIGHT,
          durationMs: DURATION_MS,
          warmupMs: WARMUP_MS,
          calls: [{ service: "file.v1.FileService", method: "GenerateUploadURLs", requests }],
        },
        stack.backends.pki,
      );
      const cpu = (await cpuSeconds(pid)) - cpuBefore;
      printProfileWindow(name, spawnedAt, DURATION_MS);
      const served = (result.perSecond * (DURATION_MS + WARMUP_MS)) / 1000;
      return record(name, { ...result, serverCpuUsPerCall: (cpu / served) * 1e6 });
    },
  });
  const variants: Variant[] = [
    serviceVariant(SERVICE, stack.grpcPort, servicePid),
    ...(baseline
      ? [serviceVariant(`GenerateUploadURLs x${FILES_PER_CALL} (service, ${baseline.label})`, baseline.grpcPort, baseline.service.child.pid!)]
      : []),
    {
      name: CEILING,
      async run() {
        const spec: CeilingSpec = {
          databaseUrl: stack.backends.db.url,
          inFlight: IN_FLIGHT,
          durationMs: DURATION_MS,
          warmupMs: WARMUP_MS,
          rowsPerTransaction: FILES_PER_CALL,
          protocol: ceilingProtocol,
        };
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ["--import", import.meta.resolve("tsx"), join(import.meta.dirname, "../peers/mysql-insert-ceiling.ts")],
          { env: { ...process.env, CEILING_SPEC: JSON.stringify(spec) } },
        );
        const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as LoadResult;
        if (result.errors > 0) throw new Error(`${result.errors} transactions failed; first: ${result.firstError}`);
        return record(CEILING, result);
      },
    },
  ].filter((v) => !process.env.BENCH_ONLY || v.name.includes(process.env.BENCH_ONLY));

  const samples = await alternate(variants);
  const extra: Record<string, unknown> = {
    "files per call": FILES_PER_CALL,
    "in flight": IN_FLIGHT,
    "grpc channels": CHANNELS,
    "duration per sample (ms)": DURATION_MS,
    "ceiling's statement": ceilingProtocol === "execute" ? "prepared (execute)" : "text (query)",
  };
  for (const [name, list] of details) {
    extra[`${name}: p50 / p99 ms (medians)`] = `${median(list.map((r) => r.p50Ms)).toFixed(1)} / ${median(list.map((r) => r.p99Ms)).toFixed(1)}`;
    const server = list.flatMap((r) => (r.serverCpuUsPerCall === undefined ? [] : [r.serverCpuUsPerCall]));
    if (server.length > 0) extra[`${name}: service CPU µs per call (median)`] = Math.round(median(server));
    extra[`${name}: client CPU µs per call (median)`] = Math.round(median(list.map((r) => r.clientCpuUsPerCall)));
  }
  // What each step of the call costs, in process (bench/lib/generate-upload-layers.ts).
  extra["steps of one call (10 files), in process, µs"] = await measureGenerateUploadLayers(SMOKE ? 50 : 5_000);
  await report(
    summarize(
      {
        scenario: "2-generate-upload-urls",
        unit: "req/s (calls or transactions)",
        higherIsBetter: true,
        baseline: samples.has(CEILING) ? CEILING : variants[0]!.name,
        goal: ">= 0.50x the raw mysql2 ceiling",
        extra,
      },
      samples,
    ),
  );
} finally {
  await baseline?.stop();
  await stack.stop();
}
