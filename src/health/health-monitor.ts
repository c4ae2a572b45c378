// The service's readiness, probed in the background so that health checks are
// cheap and every caller (gRPC Check/Watch, /readyz) sees the same answer:
// SERVING only after the first successful probe, while every dependency
// answers, and until shutdown starts draining.

export interface DependencyProbe {
  name: string;
  ping(): Promise<void>;
  /** Whether serving needs it (default true); a non-critical one is reported only. */
  critical?: boolean;
}

export interface DependencyState {
  ok: boolean;
  /** A short reason when not ok (never a stack trace). */
  error?: string;
}

export interface HealthSnapshot {
  serving: boolean;
  state: "starting" | "serving" | "degraded" | "draining";
  dependencies: Record<string, DependencyState>;
}

export interface HealthMonitor {
  snapshot(): HealthSnapshot;
  /** Probes now (also what the timer does); resolves with the new snapshot. */
  check(): Promise<HealthSnapshot>;
  /** Calls `listener` whenever `serving` changes; returns the unsubscribe function. */
  subscribe(listener: (snapshot: HealthSnapshot) => void): () => void;
  start(): void;
  /** Reports not-serving from now on (shutdown); probing stops. */
  drain(): void;
  /** Resolves when draining starts: streaming watchers end then. */
  readonly drained: Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;

export function createHealthMonitor(probes: readonly DependencyProbe[], intervalMs: number): HealthMonitor {
  let state: HealthSnapshot["state"] = "starting";
  let dependencies: Record<string, DependencyState> = {};
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<HealthSnapshot> | undefined;
  const listeners = new Set<(s: HealthSnapshot) => void>();
  let markDrained!: () => void;
  const drained = new Promise<void>((resolve) => (markDrained = resolve));

  const snapshot = (): HealthSnapshot => ({ serving: state === "serving", state, dependencies });

  function publish(before: boolean) {
    const now = snapshot();
    if (now.serving !== before) for (const listener of listeners) listener(now);
  }

  async function probeAll(): Promise<HealthSnapshot> {
    const results = await Promise.all(
      probes.map(async (p): Promise<[string, DependencyState]> => {
        try {
          await withTimeout(p.ping(), PROBE_TIMEOUT_MS);
          return [p.name, { ok: true }];
        } catch (e) {
          return [p.name, { ok: false, error: e instanceof Error ? e.message : "unreachable" }];
        }
      }),
    );
    if (state === "draining") return snapshot();
    const before = state === "serving";
    dependencies = Object.fromEntries(results);
    const critical = new Set(probes.filter((p) => p.critical !== false).map((p) => p.name));
    state = results.every(([name, r]) => r.ok || !critical.has(name)) ? "serving" : "degraded";
    publish(before);
    return snapshot();
  }

  return {
    snapshot,
    drained,
    check() {
      // Concurrent callers share one probe round instead of multiplying DB pings.
      inFlight ??= probeAll().finally(() => (inFlight = undefined));
      return inFlight;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start() {
      void this.check();
      timer = setInterval(() => void this.check(), intervalMs);
      timer.unref();
    },
    drain() {
      clearInterval(timer);
      const before = state === "serving";
      state = "draining";
      publish(before);
      markDrained();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
