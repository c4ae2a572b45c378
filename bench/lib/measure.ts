// Same-run comparisons that hold on a noisy machine: variants run alternately
// (A B A B ...) for a number of rounds, and every figure is reported as a
// median with min and max, and as a ratio to a baseline measured in the same run.
import { mkdir, writeFile } from "node:fs/promises";
import { arch, cpus, totalmem } from "node:os";
import { join } from "node:path";

export const SMOKE = process.env.BENCH_SMOKE === "1";
/** A run of some variants only, or under the profiler: its figures are not the scenario's. */
const PARTIAL = Boolean(process.env.BENCH_ONLY || process.env.BENCH_CPU_PROF || process.env.BENCH_CPU_PROF_PEER);
/** At least 5 rounds for real figures; smoke runs only check the scenario still works. */
export const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);

export interface Variant {
  name: string;
  /** One measurement, in the scenario's unit. */
  run(): Promise<number>;
}

export interface Row {
  variant: string;
  median: number;
  min: number;
  max: number;
  /** median / baseline median (higher-is-better units) or baseline / median (lower-is-better). */
  ratio: number;
  samples: number[];
}

export interface ScenarioResult {
  scenario: string;
  unit: string;
  higherIsBetter: boolean;
  baseline: string;
  goal?: string;
  rows: Row[];
  extra?: Record<string, unknown>;
}

export async function alternate(variants: readonly Variant[], rounds = ROUNDS): Promise<Map<string, number[]>> {
  const samples = new Map(variants.map((v) => [v.name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    // Alternate the order too, so neither variant always runs right after the other.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) samples.get(v.name)!.push(await v.run());
  }
  return samples;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(
  scenario: Omit<ScenarioResult, "rows">,
  samples: Map<string, number[]>,
): ScenarioResult {
  const base = median(samples.get(scenario.baseline) ?? []);
  const rows = [...samples].map(([variant, values]) => {
    const m = median(values);
    return {
      variant,
      median: m,
      min: Math.min(...values),
      max: Math.max(...values),
      ratio: scenario.higherIsBetter ? m / base : base / m,
      samples: values,
    };
  });
  return { ...scenario, rows };
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

/**
 * Prints the table and writes bench/results/<scenario>.json; smoke runs write <scenario>.smoke.json
 * and runs narrowed (BENCH_ONLY) or slowed by profiling (BENCH_CPU_PROF) <scenario>.partial.json,
 * so neither replaces the full results BENCHMARKS.md is rendered from.
 */
export async function report(result: ScenarioResult): Promise<void> {
  const lines = [
    `\n## ${result.scenario}  (${result.unit}, ${result.higherIsBetter ? "higher" : "lower"} is better; ratio vs ${result.baseline}${result.goal ? `; goal ${result.goal}` : ""})`,
    `| variant | median | min | max | ratio |`,
    `| --- | --- | --- | --- | --- |`,
    ...result.rows.map((r) => `| ${r.variant} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.ratio.toFixed(2)}x |`),
  ];
  if (result.extra) lines.push(...Object.entries(result.extra).map(([k, v]) => `- ${k}: ${typeof v === "number" ? fmt(v) : JSON.stringify(v)}`));
  process.stdout.write(`${lines.join("\n")}\n`);
  const dir = join(import.meta.dirname, "../results");
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, `${result.scenario}${SMOKE ? ".smoke" : PARTIAL ? ".partial" : ""}.json`),
    JSON.stringify({ ...result, smoke: SMOKE, rounds: ROUNDS, machine: machine(), at: new Date().toISOString() }, null, 2),
  );
}

export function machine() {
  return { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, arch: arch(), memoryGiB: Math.round(totalmem() / 2 ** 30) };
}
