// Turns a run into verdicts: wrong codes (outside the allowed set, or an error
// outside every fault window), the longest call against the configured bound,
// recovery time per fault, and which invariants failed among those enforced.
import type { AuditResult } from "./audit.js";
import type { FaultWindow } from "./faults.js";
import type { CallRecord } from "./record.js";

export const INVARIANTS = ["orphans", "unqueued", "expired", "deleted-objects", "lost", "temp-files", "partial-batches", "codes", "latency"] as const;
export type Invariant = (typeof INVARIANTS)[number];

/** What the lifecycle holds (issue 11): all of it, the latency bound (CALL_TIMEOUT_MS) included. */
export const DEFAULT_ENFORCED: readonly Invariant[] = INVARIANTS;

const FAULT_CODES = new Set(["unavailable", "deadline_exceeded"]);
const RESET_MESSAGE = /^(http\/2 stream closed with error code|Stream closed with error code)|ECONNRESET/;

export interface Verdict {
  wrongCodes: { count: number; examples: string[] };
  /** Calls the client saw reset by a dying instance (in a fault window), by code. */
  streamResets: Record<string, number>;
  /** The longest call the service held: calls to an instance while it was being killed and restarted are left out (the client waits on a dead socket, not on the service). */
  maxLatencyMs: number;
  maxLatencyCall: string;
  /** The longest call of all, those included. */
  maxLatencyAllMs: number;
  maxLatencyAllCall: string;
  latencyBoundMs: number;
  /** Answered calls that overlapped no fault: what the load alone costs (the call bound must sit above it). */
  quietLatencyMs: { calls: number; p50: number; p99: number; max: number };
  recoveries: Array<{ kind: string; instance?: string; heldMs: number; recoveryMs: number | null }>;
  counts: Record<Invariant, number>;
  failed: Invariant[];
}

export function judge(
  calls: readonly CallRecord[],
  windows: readonly FaultWindow[],
  result: AuditResult,
  spec: { latencyBoundMs: number; recoveryAllowanceMs: number; enforce: readonly Invariant[] },
): Verdict {
  const inWindow = (c: CallRecord) => windows.some((w) => c.endMs >= w.startMs && c.startMs <= w.endMs + spec.recoveryAllowanceMs);
  // PUTs go to S3 itself, not through the service: their codes and latency are the store's.
  const rpcs = calls.filter((c) => c.rpc !== "PUT");
  // An instance that dies under a call resets its HTTP/2 streams; connect-node then reports
  // canceled (CANCEL), internal (REFUSED_STREAM) or aborted (ECONNRESET) on its own: counted apart, as the
  // service never answered those codes.
  const reset = (c: CallRecord) => c.code !== "ok" && inWindow(c) && RESET_MESSAGE.test(c.message ?? "");
  const resets = rpcs.filter(reset);
  const wrong = rpcs.filter((c) => c.code !== "ok" && !(FAULT_CODES.has(c.code) && inWindow(c)) && !reset(c));
  const slowestOf = (list: readonly CallRecord[]) => {
    let slowest: CallRecord | undefined;
    for (const c of list) if (slowest === undefined || c.endMs - c.startMs > slowest.endMs - slowest.startMs) slowest = c;
    return slowest;
  };
  const overlapping = (c: CallRecord) => windows.filter((w) => c.endMs >= w.startMs && c.startMs <= w.endMs);
  const describe = (c: CallRecord | undefined) => {
    if (c === undefined) return "";
    const faults = overlapping(c).map((w) => (w.instance === undefined ? w.kind : `${w.kind} of ${w.instance}`));
    const said = c.message ? `: ${c.message.slice(0, 120)}` : "";
    return `${c.rpc}@${c.instance} (${c.code}${said}) during ${faults.join(", ") || "no fault"}`;
  };
  const latency = (c: CallRecord | undefined) => (c === undefined ? 0 : c.endMs - c.startMs);
  const onDyingInstance = (c: CallRecord) => overlapping(c).some((w) => w.instance !== undefined && w.instance === c.instance);
  const slowest = slowestOf(rpcs.filter((c) => !onDyingInstance(c)));
  const slowestAll = slowestOf(rpcs);
  const maxLatencyMs = latency(slowest);
  const quiet = rpcs
    .filter((c) => c.code === "ok" && overlapping(c).length === 0)
    .map(latency)
    .sort((a, b) => a - b);
  const at = (q: number) => quiet[Math.min(quiet.length - 1, Math.floor(q * quiet.length))] ?? 0;

  const recoveries = windows.map((w) => {
    const relevant = calls.filter((c) => {
      if (c.code !== "ok" || c.startMs < w.endMs) return false;
      if (w.instance !== undefined) return c.instance === w.instance;
      if (w.kind.startsWith("s3")) return c.rpc === "PUT" || c.rpc === "UploadFileStream";
      return c.rpc !== "PUT";
    });
    const first = relevant.reduce<number | null>((min, c) => (min === null || c.endMs < min ? c.endMs : min), null);
    return { kind: w.kind, instance: w.instance, heldMs: w.endMs - w.startMs, recoveryMs: first === null ? null : first - w.endMs };
  });

  const counts: Record<Invariant, number> = {
    orphans: result.orphans.count,
    unqueued: result.unqueued.count,
    expired: result.expired.count,
    "deleted-objects": result.deletedObjects.count,
    lost: result.lost.count,
    "temp-files": result.tempFiles.count,
    "partial-batches": result.partialBatches.count,
    codes: wrong.length,
    latency: maxLatencyMs > spec.latencyBoundMs ? 1 : 0,
  };
  return {
    wrongCodes: { count: wrong.length, examples: oneOfEach(wrong).map((c) => `${c.rpc}@${c.instance}: ${c.code} ${c.message ?? ""}`.trim()) },
    streamResets: resets.reduce<Record<string, number>>((by, c) => ((by[c.code] = (by[c.code] ?? 0) + 1), by), {}),
    maxLatencyMs,
    maxLatencyCall: describe(slowest),
    maxLatencyAllMs: latency(slowestAll),
    maxLatencyAllCall: describe(slowestAll),
    latencyBoundMs: spec.latencyBoundMs,
    quietLatencyMs: { calls: quiet.length, p50: at(0.5), p99: at(0.99), max: quiet.at(-1) ?? 0 },
    recoveries,
    counts,
    failed: spec.enforce.filter((i) => counts[i] > 0),
  };
}

/** The first call of each (rpc, code), up to 8: every kind of wrong answer shows. */
function oneOfEach(calls: readonly CallRecord[]): CallRecord[] {
  const seen = new Map<string, CallRecord>();
  for (const c of calls) if (!seen.has(`${c.rpc} ${c.code}`)) seen.set(`${c.rpc} ${c.code}`, c);
  return [...seen.values()].slice(0, 8);
}

/** "orphans,lost" → the invariants, or an error naming the unknown one. */
export function parseEnforce(value: string): Invariant[] {
  if (value === "all") return [...INVARIANTS];
  if (value === "" || value === "none") return [];
  return value.split(",").map((v) => {
    const name = v.trim() as Invariant;
    if (!INVARIANTS.includes(name)) throw new Error(`--enforce: unknown invariant "${v}" (known: ${INVARIANTS.join(", ")}, all, none)`);
    return name;
  });
}
