// Scenario 8: what the service process costs to run, on production backends
// (MariaDB, S3 via s3rver, certificates from files): the time from spawn to
// /readyz 200, the resident memory 10 s after ready, and again after a burst of
// calls, for each way of running it:
//   - tsx (npm start): TypeScript compiled by tsx at every start;
//   - the production build (npm run build: an esbuild bundle), as npm run
//     start:prod and the Docker image's CMD run it (node dist/main.mjs).
// Measured once beside them on 2026-12-05 (see BENCHMARKS.md's notes): the
// same code compiled by tsc module by module started in 1.3-1.5 s at 170-270 MiB:
// Node's loader, not TypeScript, was the cost; bundling is what pays.
// Variants alternate, a fresh process each round, none the first start after
// an install (the build is made once before the rounds).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { startBackends } from "../../test/support/service.js";
import { REPO_ROOT, startServiceOn } from "../../test/support/service-process.js";
import { fileSpec, pngLikeBytes } from "../../test/support/upload.js";
import { alternate, report, ROUNDS, SMOKE, summarize } from "../lib/measure.js";

const SETTLE_MS = SMOKE ? 1_000 : 10_000;
const CALLS = SMOKE ? 50 : 3_000;
const IN_FLIGHT = 16;

// What npm run start:prod runs (package.json), so the bench measures what ships.
const startProd = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts["start:prod"] as string;
const [, ...prodArgs] = startProd.split(" "); // "node <flags...> dist/main.mjs"

// The build goes to a folder of its own, with the checkout's node_modules beside it as a deploy has.
const build = mkdtempSync(join(tmpdir(), "fs-bench-build-"));
const dist = join(build, "dist");
symlinkSync(join(REPO_ROOT, "node_modules"), join(build, "node_modules"));
execFileSync(process.execPath, [join(REPO_ROOT, "scripts/build.mjs"), dist], { cwd: REPO_ROOT, stdio: "inherit" });
const backends = await startBackends();

interface Sample {
  readyMs: number;
  idleRssMiB: number;
  loadedRssMiB: number;
}
const details = new Map<string, Sample[]>();

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

async function measure(nodeArgs: string[] | undefined): Promise<Sample> {
  const spawned = performance.now();
  const { service, httpUrl, grpcTransport } = await startServiceOn(backends, { LOG_LEVEL: "warn", PROCESSING_CONCURRENCY: "0" }, { nodeArgs });
  try {
    for (;;) {
      const ready = await fetch(`${httpUrl}/readyz`).then((r) => r.status === 200, () => false);
      if (ready) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - spawned;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const idleRssMiB = rssMiB(service.child.pid!);
    // A burst of the calls a backend makes most: reserve uploads, read files.
    const { transport, sessions } = grpcTransport();
    try {
      const client = createClient(FileService, transport);
      const bytes = pngLikeBytes(1000);
      const { uploads } = await client.generateUploadURLs({ ownerId: "footprint", files: [fileSpec(bytes)] });
      const fileId = uploads[0]!.fileId;
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next++ < CALLS) {
            await (next % 5 === 0
              ? client.generateUploadURLs({ ownerId: "footprint", files: [fileSpec(bytes)] })
              : client.getFile({ ownerId: "footprint", fileId }));
          }
        }),
      );
    } finally {
      sessions.abort();
    }
    return { readyMs, idleRssMiB, loadedRssMiB: rssMiB(service.child.pid!) };
  } finally {
    service.child.kill("SIGTERM");
    await service.exited;
  }
}

const variant = (name: string, nodeArgs: string[] | undefined) => ({
  name,
  async run() {
    const sample = await measure(nodeArgs);
    details.set(name, [...(details.get(name) ?? []), sample]);
    return sample.readyMs;
  },
});

const TSX = "tsx (npm start)";
const PROD = "production build (npm run start:prod)";
try {
  const ready = await alternate(
    [variant(TSX, undefined), variant(PROD, prodArgs.map((arg) => (arg === "dist/main.mjs" ? join(dist, "main.mjs") : arg)))],
    ROUNDS,
  );
  const pick = (field: keyof Sample) => new Map([...details].map(([name, samples]) => [name, samples.map((s) => s[field])]));
  const goal = { ready: "compiled ≤ 1500 ms", rss: "compiled ≤ 150 MiB 10 s after ready" };
  await report({ ...summarize({ scenario: "footprint-ready", unit: "ms from spawn to /readyz 200", higherIsBetter: false, baseline: TSX, goal: goal.ready }, ready) });
  await report(
    summarize({ scenario: "footprint-idle-rss", unit: `MiB resident ${SETTLE_MS / 1000} s after ready`, higherIsBetter: false, baseline: TSX, goal: goal.rss }, pick("idleRssMiB")),
  );
  await report(
    summarize({ scenario: "footprint-loaded-rss", unit: `MiB resident after ${CALLS} calls (${IN_FLIGHT} in flight)`, higherIsBetter: false, baseline: TSX }, pick("loadedRssMiB")),
  );
} finally {
  await backends.stop();
  rmSync(build, { recursive: true, force: true });
}
