// `npm run chaos`: the service under load while its dependencies fail, then an
// audit of the database and the bucket (issue 11). Two instances on MariaDB and
// s3rver behind fault proxies; N clients run the memory upload sequence and
// streamed uploads while the database and S3 are cut and stalled and the
// instances are SIGKILLed and SIGTERMed; after a settle period (the expiry
// window plus processing) the audit counts what was left behind. Prints a table
// and one JSON line ("chaos-summary ..."); exits 1 when an enforced invariant
// fails, 2 on a harness error.
//
//   npm run chaos -- [--clients 100] [--seconds 60] [--smoke] [--enforce lost,codes|all|none] [--seed]
import { parseArgs } from "node:util";
import { audit, type AuditTarget } from "./audit.js";
import { FAULT_KINDS, runFaults } from "./faults.js";
import { DEFAULT_ENFORCED, judge, parseEnforce } from "./judge.js";
import { Recorder } from "./record.js";
import { printReport } from "./report.js";
import { seedDamage } from "./seed.js";
import { startChaosStack } from "./stack.js";
import { runWorkload, type Target } from "./workload.js";
import { drainQueues } from "../lib/drain-queues.js";

const { values: flags } = parseArgs({
  options: {
    clients: { type: "string" },
    seconds: { type: "string" },
    smoke: { type: "boolean", default: false },
    enforce: { type: "string" },
    seed: { type: "boolean", default: false },
    "hold-ms": { type: "string" },
    "bound-ms": { type: "string" },
    "call-timeout-ms": { type: "string" },
  },
});

const smoke = flags.smoke;
const positive = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number from 1 up, got "${value}"`);
  return n;
};

async function main(): Promise<number> {
  const clients = positive("clients", flags.clients, smoke ? 8 : 100);
  const seconds = positive("seconds", flags.seconds, smoke ? 12 : 60);
  const holdMs = positive("hold-ms", flags["hold-ms"], smoke ? 1_000 : 4_000);
  const enforce = flags.enforce === undefined ? DEFAULT_ENFORCED : parseEnforce(flags.enforce);
  const ttlSeconds = smoke ? 3 : 20;
  const graceSeconds = 0;
  const dbTimeoutMs = 2_000;
  const s3TimeoutMs = 3_000;
  // The service's bound on a call once its request is in (CALL_TIMEOUT_MS): twice S3's, so a call
  // may wait out one request's bound and still do its work, but not wait on several in turn. It
  // must sit above what this load alone costs a call on two saturated cores (the report's "outside
  // every fault" line: up to 5.5 s as the client sees it), or it fails calls no fault touched.
  const callTimeoutMs = positive("call-timeout-ms", flags["call-timeout-ms"], 2 * s3TimeoutMs);
  // The longest a call may take as its client sees it: the call's bound, plus sending the request
  // and reading the answer on those saturated cores.
  const latencyBoundMs = positive("bound-ms", flags["bound-ms"], callTimeoutMs + 1_000);

  const settings = {
    UPLOAD_URL_TTL_SECONDS: String(ttlSeconds),
    UPLOAD_EXPIRY_GRACE_SECONDS: String(graceSeconds),
    DB_QUERY_TIMEOUT_MS: String(dbTimeoutMs),
    S3_REQUEST_TIMEOUT_MS: String(s3TimeoutMs),
    CALL_TIMEOUT_MS: String(callTimeoutMs),
    PROCESSING_LEASE_MS: "5000",
    PROCESSING_POLL_MS: "500",
    PROCESSING_RETRY_BASE_MS: "200",
    TASK_LEASE_MS: "5000",
    TASK_POLL_MS: "500",
    TASK_RETRY_BASE_MS: "200",
    TASK_RETRY_CAP_MS: "2000",
    HEALTH_INTERVAL_MS: "500",
    SHUTDOWN_TIMEOUT_MS: "5000",
  };
  const log = (line: string) => process.stderr.write(`chaos: ${line}\n`);
  log(`starting 2 instances (${clients} clients, ${seconds} s, faults held ${holdMs} ms)`);
  const stack = await startChaosStack(settings);
  try {
    const recorder = new Recorder();
    const perSession = 25;
    const targets: Target[][] = stack.instances.map((instance) =>
      Array.from({ length: Math.ceil(clients / perSession) }, () => ({ name: instance.name, client: stack.client(instance) })),
    );
    let w = 0;
    const pick = () => targets.map((group) => group[w++ % group.length]!);
    const runStartMs = Date.now();
    // The load runs its full time, and on past the last fault long enough to see recovery from it.
    let faultsDoneMs: number | undefined;
    const tailMs = smoke ? 3_000 : 5_000;
    const faults = runFaults(stack, FAULT_KINDS, { runStartMs, spacingMs: (seconds * 1000) / FAULT_KINDS.length, holdMs }).finally(() => (faultsDoneMs = Date.now()));
    const stop = () => faultsDoneMs !== undefined && Date.now() - faultsDoneMs >= tailMs && Date.now() - runStartMs >= seconds * 1000;
    const workload = runWorkload(pick, recorder, { clients, callTimeoutMs: 20_000, batchSize: 3 }, stop);
    const windows = await faults;
    await workload;
    const loadEndMs = Date.now();
    log(`load done: ${recorder.calls.length} calls in ${((loadEndMs - runStartMs) / 1000).toFixed(1)} s; settling`);

    const target: AuditTarget = { databaseUrl: stack.db.url, s3: { endpoint: stack.s3.endpoint, bucket: stack.s3.bucket }, tmpDir: stack.tmpDir };
    // Every row made during the load is due to expire by then, and 10 s late counts as late.
    await new Promise((r) => setTimeout(r, (ttlSeconds + graceSeconds) * 1000 + 12_000));
    await drainQueues(stack.db.url, smoke ? 5_000 : 30_000);
    const seeded = flags.seed ? await seedDamage(target) : undefined;
    const result = await audit(target, recorder, { graceSeconds, watch: seeded === undefined ? [] : [seeded.orphanKey, seeded.unqueuedId] });
    const verdict = judge(recorder.calls, windows, result, { latencyBoundMs, recoveryAllowanceMs: 10_000, enforce });
    printReport({ clients, seconds, recorder, windows, result, verdict, enforce, seeded, settleMs: Date.now() - loadEndMs });
    if (verdict.failed.length > 0) log(`failed: ${verdict.failed.join(", ")}`);
    return verdict.failed.length > 0 ? 1 : 0;
  } catch (error) {
    process.stderr.write(`${stack.logs().slice(-4000)}\n`);
    throw error;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
