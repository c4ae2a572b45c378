// Prometheus metrics on a registry of their own: tests run several service
// instances in one process, and the global registry would mix (or reject
// duplicate names from) them.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { createOutboxMetrics, type OutboxMetrics } from "./outbox-metrics.js";

export type Transport = "internal" | "public";
export type Dependency = "database" | "object_store";
export type Outcome = "ok" | "error";

export interface MetricsOptions {
  /** Prepended to the service's own metric names; default "file_service_". Process metrics keep their standard names. */
  prefix?: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** One per finished RPC; code is the snake_case Code name ("ok", "invalid_argument", ...). */
  readonly rpcRequests: Counter<"method" | "code" | "transport">;
  /** Seconds from handler start to the last response message. */
  readonly rpcDuration: Histogram<"method" | "code" | "transport">;
  /** Bytes of uploads the service confirmed (the bytes themselves go straight to the store). */
  readonly uploadedBytes: Counter;
  /** File records per status, read at scrape time through trackFileCounts. */
  readonly files: Gauge<"status">;
  /** Seconds per repository / object store call. */
  readonly dependencyDuration: Histogram<"dependency" | "operation" | "outcome">;
  /**
   * Registers the source of the `files` gauge, called once per scrape (concurrent
   * scrapes share one call). A failing or slow (> 2 s) source keeps the last
   * values instead of failing the scrape. A later call replaces the source.
   */
  trackFileCounts(count: () => Promise<Record<string, number>>): void;
  readonly outbox: OutboxMetrics;
  /** Malware scans by verdict. */
  readonly scans: Counter<"verdict">;
  readonly quarantinedFiles: Counter;
  /** Registers the health monitor whose dependencies `file_service_dependency_up` reports at scrape time. */
  trackDependencies(snapshot: () => { dependencies: Record<string, { ok: boolean }> }): void;
  /** The scrape response for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

// Most calls take milliseconds; the tail up to the clients' usual deadlines matters too.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// Below Prometheus' default scrape timeout (10 s), so a hung database costs one
// stale sample, not a failed scrape.
const FILE_COUNT_TIMEOUT_MS = 2_000;

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? "file_service_";
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  let countFiles: (() => Promise<Record<string, number>>) | undefined;
  let dependencySnapshot: (() => { dependencies: Record<string, { ok: boolean }> }) | undefined;
  new Gauge({
    name: `${prefix}dependency_up`,
    help: "1 while a dependency answered its last health probe (database, object store, malware scanner), else 0.",
    labelNames: ["dependency"] as const,
    registers,
    collect() {
      for (const [dependency, state] of Object.entries(dependencySnapshot?.().dependencies ?? {})) this.set({ dependency }, state.ok ? 1 : 0);
    },
  });
  let refreshing: Promise<void> | undefined;

  const files = new Gauge({
    name: `${prefix}files`,
    help: "File records by status.",
    labelNames: ["status"] as const,
    registers,
    collect: () => {
      if (countFiles === undefined) return;
      // .finally runs after the assignment even when the source throws synchronously.
      refreshing ??= refreshFiles(countFiles).finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    },
  });

  async function refreshFiles(count: () => Promise<Record<string, number>>): Promise<void> {
    try {
      const counts = await withTimeout(count(), FILE_COUNT_TIMEOUT_MS);
      for (const [status, value] of Object.entries(counts)) files.set({ status }, value);
    } catch {
      // Keep the last values: a scrape must not fail because the database does.
    }
  }

  return {
    registry,
    rpcRequests: new Counter({
      name: `${prefix}rpc_requests_total`,
      help: "RPCs handled, by method, final code and listener.",
      labelNames: ["method", "code", "transport"] as const,
      registers,
    }),
    rpcDuration: new Histogram({
      name: `${prefix}rpc_duration_seconds`,
      help: "RPC handling time, by method, final code and listener.",
      labelNames: ["method", "code", "transport"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    uploadedBytes: new Counter({
      name: `${prefix}uploaded_bytes_total`,
      help: "Bytes of confirmed uploads.",
      registers,
    }),
    files,
    dependencyDuration: new Histogram({
      name: `${prefix}dependency_duration_seconds`,
      help: "Database and object store call time, by operation and outcome.",
      labelNames: ["dependency", "operation", "outcome"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    trackFileCounts(count) {
      countFiles = count;
    },
    outbox: createOutboxMetrics(registry, prefix),
    scans: new Counter({ name: `${prefix}scans_total`, help: "Malware scans, by verdict (clean, infected, error).", labelNames: ["verdict"] as const, registers }),
    quarantinedFiles: new Counter({ name: `${prefix}quarantined_files_total`, help: "Files whose bytes were moved to quarantine.", registers }),
    trackDependencies(snapshot) {
      dependencySnapshot = snapshot;
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
