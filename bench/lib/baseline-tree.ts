// BENCH_BASELINE_TREE=<dir>: another checkout of this repository (say
// `git worktree add ../before <commit> && (cd ../before && npm ci)`) whose
// service runs beside this one on the same backends, so a scenario can measure
// "before" and "after" in one alternated run instead of comparing runs made at
// different times on a machine whose speed drifts.
import { basename, resolve } from "node:path";
import { startServiceOn, type ServiceOnBackends } from "../../test/support/service-process.js";
import type { Stack } from "./stack.js";

export const BASELINE_TREE = process.env.BENCH_BASELINE_TREE ? resolve(process.env.BENCH_BASELINE_TREE) : undefined;

export interface BaselineService extends ServiceOnBackends {
  /** How variants name it: the tree's directory name. */
  label: string;
  stop(): Promise<void>;
}

/** The baseline tree's service on the stack's backends, or undefined when no tree is set. */
export async function startBaselineService(stack: Stack, env: Record<string, string>): Promise<BaselineService | undefined> {
  if (BASELINE_TREE === undefined) return undefined;
  const started = await startServiceOn(stack.backends, { LOG_LEVEL: "warn", ...env }, { root: BASELINE_TREE });
  return {
    ...started,
    label: basename(BASELINE_TREE),
    async stop() {
      started.service.child.kill("SIGTERM");
      await started.service.exited;
    },
  };
}
