// bench/results/*.json → BENCHMARKS.md: the latest table of every scenario,
// the machine, the Node version and the commands.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScenarioResult } from "./measure.js";

interface Stored extends ScenarioResult {
  smoke: boolean;
  rounds: number;
  at: string;
  machine: { node: string; cpus: number; cpu?: string; arch: string; memoryGiB: number };
}

/** The issue's scenario order, by the names the scenario scripts carry. */
export const SCENARIO_ORDER = ["presign", "generate-upload-urls", "get-file", "jwt-cost", "upload-stream", "variants", "scale-out", "footprint", "scan", "event-lag"];

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

export async function renderBenchmarks(): Promise<void> {
  const root = join(import.meta.dirname, "../..");
  const dir = join(root, "bench/results");
  // Full runs only: not <scenario>.smoke.json nor the narrowed or profiled runs' <scenario>.partial.json.
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json") && !/\.(smoke|partial)\.json$/.test(f)).sort();
  const results = (await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), "utf8")) as Stored))).filter(
    (r) => !r.smoke,
  );
  // In the issue's order (1 presign … 7 scale-out), whatever each scenario named its results.
  const rank = (name: string) => {
    const i = SCENARIO_ORDER.findIndex((s) => name.includes(s));
    return i === -1 ? SCENARIO_ORDER.length : i;
  };
  results.sort((a, b) => rank(a.scenario) - rank(b.scenario) || a.scenario.localeCompare(b.scenario));
  const machine = results[0]?.machine;
  const lines = [
    "# Benchmarks",
    "",
    "Every figure is a ratio against a baseline measured in the same run, the variants alternated",
    "(A B A B …) for at least 5 rounds; medians with min and max. Real MariaDB and the S3-compatible",
    "server (s3rver) on loopback; gRPC load from a separate @grpc/grpc-js process with a client",
    "certificate. Load generator, service, database and S3 server share the machine's cores, so",
    "absolute figures are low and only the ratios carry over.",
    "",
    `Machine: ${machine ? `${machine.cpus} × ${machine.cpu ?? "cpu"} (${machine.arch}), ${machine.memoryGiB} GiB, Node ${machine.node}` : "n/a"}.`,
    "",
    "Commands: `npm run bench` (all scenarios, then this file is rewritten), `npm run bench -- <scenario>`",
    "(one; see `bench/scenarios/`), `npm run bench:smoke` (each once with tiny sizes; CI runs it).",
    "`BENCH_BASELINE_TREE=<another checkout>` adds that checkout's service to scenarios 2 and 3, so a",
    "before/after pair is measured in one alternated run (rows named after the checkout's directory).",
    "",
  ];
  for (const r of results) {
    lines.push(
      `## ${r.scenario}`,
      "",
      `${r.unit}, ${r.higherIsBetter ? "higher" : "lower"} is better; ratio against **${r.baseline}**${r.goal ? `; goal ${r.goal}` : ""}. ${r.rounds} rounds, ${r.at.slice(0, 16).replace("T", " ")} UTC.`,
      "",
      "| variant | median | min | max | ratio |",
      "| --- | --- | --- | --- | --- |",
      ...r.rows.map((row) => `| ${row.variant} | ${fmt(row.median)} | ${fmt(row.min)} | ${fmt(row.max)} | ${row.ratio.toFixed(2)}× |`),
      "",
      ...(r.extra ? Object.entries(r.extra).map(([k, v]) => `- ${k}: ${typeof v === "number" ? fmt(v) : JSON.stringify(v)}`) : []),
      "",
    );
  }
  const notes = await readFile(join(root, "bench/NOTES.md"), "utf8").catch(() => "");
  if (notes !== "") lines.push(notes.trim(), "");
  await writeFile(join(root, "BENCHMARKS.md"), lines.join("\n"));
}

if (import.meta.main) await renderBenchmarks();
