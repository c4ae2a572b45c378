// Helpers for scenarios that run peers and baselines in their own processes:
// start a TypeScript script (through tsx) and wait for its "ready" line, and
// read a process's CPU time from /proc (Linux).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";

export interface ScriptProcess {
  child: ChildProcess;
  /** The first match of the ready pattern. */
  ready: RegExpMatchArray;
  stop(): Promise<void>;
}

/** Runs `script` with node + tsx, `env` added to ours; resolves once stdout matches `ready`. */
export async function startScript(script: string, env: Record<string, string>, ready: RegExp, timeoutMs = 20_000): Promise<ScriptProcess> {
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: not ready after ${timeoutMs} ms\n${out}\n${err}`)), timeoutMs);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code})\n${out}\n${err}`));
    });
  });
  const exited = once(child, "exit");
  return {
    child,
    ready: match,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** User + system CPU seconds the process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  // Fields after the command name (which may hold spaces) in parentheses.
  return cpuSecondsOf(await readFile(`/proc/${pid}/stat`, "utf8"));
}

/**
 * CPU seconds of the process's main thread (the event loop) only: the rest of
 * cpuSeconds() went to V8's compiler and GC helper threads and libuv's pool.
 */
export async function mainThreadCpuSeconds(pid: number): Promise<number> {
  return cpuSecondsOf(await readFile(`/proc/${pid}/task/${pid}/stat`, "utf8"));
}

function cpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Runs `work` and returns its result with the CPU seconds `pid` used meanwhile. */
export async function withCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuSeconds: number }> {
  const before = await cpuSeconds(pid);
  const result = await work();
  return { result, cpuSeconds: (await cpuSeconds(pid)) - before };
}
