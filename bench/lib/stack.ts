// The system under test for benchmarks: real MariaDB (a fresh database), the
// S3 server in its own process, a PKI, and the service started from its real
// entry point in its own process.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { startBackends, type Backends } from "../../test/support/service.js";
import { startServiceOn, type ServiceProcess } from "../../test/support/service-process.js";

export interface Stack {
  backends: Backends;
  service: ServiceProcess;
  grpcUrl: string;
  grpcPort: number;
  httpUrl: string;
  client(): ReturnType<typeof createClient<typeof FileService>>;
  /** Peak resident memory of the service process since the last reset, in MiB (Linux). */
  peakRssMiB(): Promise<number>;
  resetPeakRss(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}, backends?: Backends): Promise<Stack> {
  const own = backends === undefined;
  const b = backends ?? (await startBackends());
  const { service, grpcPort, grpcUrl, httpUrl, grpcTransport } = await startServiceOn(b, { LOG_LEVEL: "warn", ...env }, { nodeArgs: serviceNodeArgs() });
  const sessions: Http2SessionManager[] = [];
  const pid = service.child.pid!;
  return {
    backends: b,
    service,
    grpcUrl,
    grpcPort,
    httpUrl,
    client() {
      const { transport, sessions: session } = grpcTransport();
      sessions.push(session);
      return createClient(FileService, transport);
    },
    async peakRssMiB() {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    },
    async resetPeakRss() {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
    },
    async stop() {
      for (const s of sessions) s.abort();
      service.child.kill("SIGTERM");
      await service.exited;
      if (own) await b.stop();
    },
  };
}

/**
 * Settings for the services of the load and upload scenarios (2, 3, 5): no processing worker;
 * BENCH_CPU_PROF=<dir> runs them with --cpu-prof (profiles written there at exit);
 * BENCH_SERVICE_ENV='{"KEY":"value"}' adds settings.
 */
export function loadServiceEnv(): Record<string, string> {
  return {
    PROCESSING_CONCURRENCY: "0",
    ...(process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` } : {}),
    ...(JSON.parse(process.env.BENCH_SERVICE_ENV ?? "{}") as Record<string, string>),
  };
}

/**
 * When profiling (BENCH_CPU_PROF), prints the stretch just measured in the profile's clock
 * (seconds since the service was spawned, `spawnedAt` from performance.now()), for cpu-profile-summary.
 */
export function printProfileWindow(name: string, spawnedAt: number, durationMs: number): void {
  if (!process.env.BENCH_CPU_PROF) return;
  const end = (performance.now() - spawnedAt) / 1000;
  process.stdout.write(`${name}: PROFILE_FROM_S=${(end - durationMs / 1000).toFixed(1)} PROFILE_TO_S=${end.toFixed(1)}\n`);
}

/**
 * BENCH_SERVICE_BUILD=1: the service runs from the production bundle (`npm run build` first), as
 * `npm run start:prod` and the Docker image run it; otherwise from src/ through tsx, as `npm start`.
 */
export function serviceNodeArgs(): string[] | undefined {
  return process.env.BENCH_SERVICE_BUILD === "1" ? [join(import.meta.dirname, "../../dist/main.mjs")] : undefined;
}
