// The fault schedule: database cut and stall, S3 cut and stall, SIGKILL of one
// instance then a restart, SIGTERM of the other then a restart; one after the
// other, spread over the run. Each fault's window (from when it began to when
// the harness undid it) is kept to judge codes and measure recovery.
import type { ChaosStack } from "./stack.js";

export const FAULT_KINDS = ["db-cut", "db-stall", "s3-cut", "s3-stall", "sigkill", "sigterm"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultWindow {
  kind: FaultKind;
  /** The instance signalled (sigkill, sigterm). */
  instance?: string;
  startMs: number;
  /** When the harness undid it: proxy restored, or the restarted instance up. */
  endMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs every fault once, the i-th starting at `runStartMs + (i + 0.5) * spacingMs`, each held `holdMs`. */
export async function runFaults(stack: ChaosStack, kinds: readonly FaultKind[], spec: { runStartMs: number; spacingMs: number; holdMs: number }): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  for (const [i, kind] of kinds.entries()) {
    await sleep(spec.runStartMs + (i + 0.5) * spec.spacingMs - Date.now());
    const startMs = Date.now();
    const window: FaultWindow = { kind, startMs, endMs: startMs };
    if (kind === "db-cut" || kind === "s3-cut") {
      const proxy = kind === "db-cut" ? stack.dbProxy : stack.s3Proxy;
      proxy.cut();
      await sleep(spec.holdMs);
      proxy.restore();
    } else if (kind === "db-stall" || kind === "s3-stall") {
      const proxy = kind === "db-stall" ? stack.dbProxy : stack.s3Proxy;
      proxy.stall();
      await sleep(spec.holdMs);
      proxy.resume();
    } else {
      const instance = stack.instances[kind === "sigkill" ? 0 : stack.instances.length - 1]!;
      window.instance = instance.name;
      await instance.stop(kind === "sigkill" ? "SIGKILL" : "SIGTERM");
      await sleep(spec.holdMs - (Date.now() - startMs));
      await instance.start();
    }
    window.endMs = Date.now();
    windows.push(window);
  }
  return windows;
}
