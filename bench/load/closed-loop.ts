// The measuring loop of the load generators that drive one call at a time per
// worker (grpc-load, the raw mysql2 ceiling): `inFlight` workers each start the
// next call as soon as the last one ends, for a warm-up and then a measured stretch.

export interface LoadResult {
  calls: number;
  errors: number;
  firstError?: string;
  durationMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Client CPU time per call, microseconds: shows when the client, not the server, is the bottleneck. */
  clientCpuUsPerCall: number;
}

/** The q-quantile (0..1) of ascending `sorted`; 0 when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Runs the warm-up unmeasured, then the measured stretch. */
export async function closedLoop(one: () => Promise<unknown>, spec: { inFlight: number; warmupMs: number; durationMs: number }): Promise<LoadResult> {
  await run(one, spec.inFlight, spec.warmupMs, false);
  return run(one, spec.inFlight, spec.durationMs, true);
}

async function run(one: () => Promise<unknown>, inFlight: number, durationMs: number, record: boolean): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const deadline = performance.now() + durationMs;
  const cpu = process.cpuUsage();
  const started = performance.now();
  async function worker() {
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        await one();
        if (record) latencies.push(performance.now() - t);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    calls: latencies.length,
    errors,
    firstError,
    durationMs: elapsed,
    perSecond: (latencies.length / elapsed) * 1000,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    clientCpuUsPerCall: (used.user + used.system) / Math.max(1, latencies.length + errors),
  };
}
