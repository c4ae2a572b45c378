// The chaos run's output: a table for a person, then one JSON line (the last
// line on stdout) for a program, with every count, the recovery times and the
// verdict.
import type { AuditResult } from "./audit.js";
import type { FaultWindow } from "./faults.js";
import type { Invariant, Verdict } from "./judge.js";
import type { Recorder } from "./record.js";
import type { Seeded } from "./seed.js";

export interface Report {
  clients: number;
  seconds: number;
  recorder: Recorder;
  windows: readonly FaultWindow[];
  result: AuditResult;
  verdict: Verdict;
  enforce: readonly Invariant[];
  seeded?: Seeded;
  settleMs: number;
}

export function printReport(r: Report): void {
  const { result, verdict, recorder } = r;
  const codes: Record<string, Record<string, number>> = {};
  for (const c of recorder.calls) {
    const row = (codes[c.rpc] ??= {});
    row[c.code] = (row[c.code] ?? 0) + 1;
  }
  const out: string[] = [];
  const line = (what: string, count: number | string, note = "") => out.push(`| ${what.padEnd(44)} | ${String(count).padStart(8)} | ${note}`);
  const enforced = (name: Invariant) => (r.enforce.includes(name) ? "enforced" : "reported");
  out.push(`chaos: ${r.clients} clients, ${r.seconds} s, ${recorder.calls.length} calls, settled ${(r.settleMs / 1000).toFixed(1)} s`);
  out.push(`| ${"audit".padEnd(44)} | ${"count".padStart(8)} | `);
  line("objects with no row", result.orphans.count, `${enforced("orphans")} ${result.orphans.examples.slice(0, 2).join(" ")}`);
  line("uploaded files with processing not queued", result.unqueued.count, enforced("unqueued"));
  line("pending files past the grace period", result.expired.count, enforced("expired"));
  line("deleted/expired files whose objects remain", result.deletedObjects.count, enforced("deleted-objects"));
  line("lost files (confirmed, then gone)", result.lost.count, enforced("lost"));
  line("pending rows no client knows about", result.unknownPending.count, "reported");
  line("temp upload files left", result.tempFiles.count, enforced("temp-files"));
  line("partial batches", result.partialBatches.count, enforced("partial-batches"));
  line("wrong codes", verdict.wrongCodes.count, `${enforced("codes")} ${verdict.wrongCodes.examples.slice(0, 2).join("; ")}`);
  line("calls reset by a dying instance (client side)", Object.values(verdict.streamResets).reduce((a, b) => a + b, 0), `reported ${JSON.stringify(verdict.streamResets)}`);
  line(`max call latency ms (bound ${verdict.latencyBoundMs})`, verdict.maxLatencyMs, `${enforced("latency")} ${verdict.maxLatencyCall}`);
  line("max call latency ms, calls to a dying instance too", verdict.maxLatencyAllMs, `reported ${verdict.maxLatencyAllCall}`);
  const quiet = verdict.quietLatencyMs;
  line("max call latency ms outside every fault", quiet.max, `reported: ${quiet.calls} calls answered, p50 ${quiet.p50} ms, p99 ${quiet.p99} ms`);
  out.push(`rows by status: ${JSON.stringify(result.totals.rows)}; objects: ${result.totals.objects}`);
  out.push(`objects left of rows by status: ${JSON.stringify(result.totals.deletedObjectsBy)}; tasks left: ${JSON.stringify(result.totals.tasks)}`);
  out.push(`codes by call: ${JSON.stringify(codes)}`);
  out.push(`confirm failures: ${JSON.stringify(Object.fromEntries(recorder.confirmFailures))}`);
  for (const rec of verdict.recoveries) {
    out.push(`fault ${rec.kind}${rec.instance ? ` (${rec.instance})` : ""}: held ${rec.heldMs} ms, recovered ${rec.recoveryMs === null ? "never" : `${rec.recoveryMs} ms`} after`);
  }
  const summary = {
    chaos: "summary",
    clients: r.clients,
    seconds: r.seconds,
    calls: recorder.calls.length,
    codes,
    confirmFailures: Object.fromEntries(recorder.confirmFailures),
    audit: {
      orphans: result.orphans,
      unqueued: result.unqueued,
      expired: result.expired,
      deletedObjects: result.deletedObjects,
      lost: result.lost,
      unknownPending: result.unknownPending,
      tempFiles: result.tempFiles,
      partialBatches: result.partialBatches,
      totals: result.totals,
    },
    wrongCodes: verdict.wrongCodes,
    streamResets: verdict.streamResets,
    maxLatencyMs: verdict.maxLatencyMs,
    maxLatencyCall: verdict.maxLatencyCall,
    maxLatencyAllMs: verdict.maxLatencyAllMs,
    latencyBoundMs: verdict.latencyBoundMs,
    recoveries: verdict.recoveries,
    enforced: r.enforce,
    failed: verdict.failed,
    ...(r.seeded === undefined ? {} : { seeded: r.seeded }),
  };
  process.stdout.write(`${out.join("\n")}\n${JSON.stringify(summary)}\n`);
}
