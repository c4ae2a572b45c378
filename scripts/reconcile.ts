// npm run reconcile: the bucket against the table, for what no task can know
// about (see src/tasks/reconcile.ts). A dry run by default; `--apply` removes
// orphan objects and marks files whose bytes are gone `missing`. One JSON line
// per finding on stdout, then `reconcile: N orphan objects, M missing objects
// (dry run|applied)`. `--metrics-file PATH` also writes the counts in the
// Prometheus text format, for node_exporter's textfile collector (a cron job
// has no /metrics of its own). Reads the same settings as the service.
import { rename, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { Gauge, Registry } from "prom-client";
import { openBackends } from "../src/backends.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { loadDotEnv } from "../src/dev/dot-env.js";
import { reconcile } from "../src/tasks/reconcile.js";

const USAGE = "usage: npm run reconcile [-- --apply] [--older-than SECONDS] [--page-size N] [--metrics-file PATH]";

function wholeNumber(value: string | undefined, fallback: number, name: string, min: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be a whole number of at least ${min}`);
  return n;
}


async function writeMetrics(file: string, counts: { orphans: number; missing: number }, applied: boolean): Promise<void> {
  const registry = new Registry();
  const findings = new Gauge({ name: "file_service_reconcile_findings", help: "What the last reconcile run found, by kind", labelNames: ["kind", "mode"], registers: [registry] });
  const mode = applied ? "applied" : "dry_run";
  findings.set({ kind: "orphan_object", mode }, counts.orphans);
  findings.set({ kind: "missing_object", mode }, counts.missing);
  new Gauge({ name: "file_service_reconcile_last_run_seconds", help: "When the last reconcile run ended (Unix time)", registers: [registry] }).setToCurrentTime();
  // Renamed into place: the collector never reads half a file.
  await writeFile(`${file}.tmp`, await registry.metrics());
  await rename(`${file}.tmp`, file);
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      options: { apply: { type: "boolean" }, "older-than": { type: "string" }, "page-size": { type: "string" }, "metrics-file": { type: "string" } },
    });
    options = {
      apply: values.apply === true,
      minAgeMs: wholeNumber(values["older-than"], 3600, "--older-than", 0) * 1000,
      pageSize: wholeNumber(values["page-size"], 1000, "--page-size", 1),
      metricsFile: values["metrics-file"],
    };
  } catch (e) {
    console.error(`reconcile: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  loadDotEnv();
  const { files, objects } = await openBackends(loadConfig());
  try {
    const counts = await reconcile({ files, objects }, { ...options, onFinding: (finding) => console.log(JSON.stringify(finding)) });
    if (options.metricsFile) await writeMetrics(options.metricsFile, counts, options.apply);
    console.log(`reconcile: ${counts.orphans} orphan objects, ${counts.missing} missing objects (${options.apply ? "applied" : "dry run"})`);
    return 0;
  } finally {
    objects.close();
    await files.close();
  }
}

try {
  process.exitCode = await main();
} catch (e) {
  // An operator's command: the reason, never a stack.
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
  console.error(`reconcile: ${e instanceof ConfigError ? e.message : e instanceof Error ? e.message + cause : String(e)}`);
  process.exitCode = 1;
}
