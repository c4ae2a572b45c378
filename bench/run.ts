// npm run bench        every scenario, full rounds; then BENCHMARKS.md is rewritten from the results
// npm run bench:smoke  every scenario once with tiny sizes (CI: the suite must keep running; no thresholds)
// npm run bench -- get-file presign   only the named scenarios
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { renderBenchmarks, SCENARIO_ORDER as SCENARIOS } from "./lib/render.js";
const smoke = process.env.BENCH_SMOKE === "1";
const chosen = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = chosen.length > 0 ? chosen : SCENARIOS;

const failed: string[] = [];
for (const name of names) {
  const script = join(import.meta.dirname, "scenarios", `${name}.ts`);
  if (!existsSync(script)) {
    process.stdout.write(`\n## ${name}: no scenario script (bench/scenarios/${name}.ts)\n`);
    failed.push(name);
    continue;
  }
  const started = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script], { stdio: "inherit", env: process.env });
    child.on("exit", resolve);
  });
  process.stdout.write(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  if (code !== 0) failed.push(name);
}

if (!smoke && chosen.length === 0) {
  await renderBenchmarks();
  process.stdout.write("\nBENCHMARKS.md rewritten from bench/results/.\n");
}
if (failed.length > 0) {
  process.stderr.write(`\nscenarios that failed: ${failed.join(", ")}\n`);
  process.exit(1);
}
