// Summarises a V8 .cpuprofile (node --cpu-prof): the busiest stretch only (the
// load, not start-up), as self time by function and by package, and the
// inclusive time of functions matching a pattern.
//
//   [PROFILE_FROM_S=s PROFILE_TO_S=s] npx tsx bench/peers/cpu-profile-summary.ts <file.cpuprofile> [top=25] [inclusive-regex]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, inclusiveArg] = process.argv.slice(2);
if (!file) throw new Error("usage: cpu-profile-summary <file.cpuprofile> [top] [inclusive-regex]");
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample times, then the window: seconds whose busy share is at least a quarter of the busiest second.
const times: number[] = [];
let t = profile.startTime;
for (const d of profile.timeDeltas) times.push((t += d));
const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
const busyPerSecond = new Map<number, number>();
profile.samples.forEach((s, i) => {
  if (idle.has(s)) return;
  const sec = Math.floor((times[i]! - profile.startTime) / 1e6);
  busyPerSecond.set(sec, (busyPerSecond.get(sec) ?? 0) + 1);
});
const peak = Math.max(...busyPerSecond.values());
const busySeconds = new Set([...busyPerSecond].filter(([, n]) => n >= peak * 0.25).map(([s]) => s));
// Keep only the last run of at least 3 consecutive busy seconds (a profiling
// run ends with the load), else the longest: not start-up bursts.
const sorted = [...busySeconds].sort((a, b) => a - b);
const runs: number[][] = [];
for (const s of sorted) {
  const last = runs.at(-1);
  if (last !== undefined && s === last.at(-1)! + 1) last.push(s);
  else runs.push([s]);
}
let best = runs.filter((r) => r.length >= 3).at(-1) ?? runs.reduce((a, b) => (b.length > a.length ? b : a), []);
// Or the stretch a scenario printed (PROFILE_FROM_S / PROFILE_TO_S: seconds since the process started).
if (process.env.PROFILE_FROM_S !== undefined) {
  const from = Math.ceil(Number(process.env.PROFILE_FROM_S));
  const to = Math.floor(Number(process.env.PROFILE_TO_S ?? Infinity));
  best = [...busyPerSecond.keys()].filter((s) => s >= from && s < to).sort((a, b) => a - b);
}
const window = new Set(best);

// This checkout's root (the profile's URLs name files under it).
const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const pkgOf = (url: string) => {
  if (url === "") return "(native/vm)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  const src = new RegExp(`^file://${ROOT}/(src|gen|bench)/`).exec(url);
  return src ? `(our ${src[1]})` : url;
};
const label = (n: Node) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^.*node_modules\//, "").replace(`file://${ROOT}/`, "");
  return `${functionName || "(anonymous)"} ${short}${url ? `:${lineNumber + 1}` : ""}`;
};

const self = new Map<string, number>();
const pkgs = new Map<string, number>();
const inclusive = new Map<string, number>();
const inclusiveRe = inclusiveArg ? new RegExp(inclusiveArg) : undefined;
let total = 0;
profile.samples.forEach((s, i) => {
  const sec = Math.floor((times[i]! - profile.startTime) / 1e6);
  if (!window.has(sec)) return;
  const n = byId.get(s)!;
  total++;
  self.set(label(n), (self.get(label(n)) ?? 0) + 1);
  pkgs.set(pkgOf(n.callFrame.url), (pkgs.get(pkgOf(n.callFrame.url)) ?? 0) + 1);
  if (inclusiveRe) {
    const seen = new Set<string>();
    for (let id: number | undefined = s; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id)!);
      if (inclusiveRe.test(l) && !seen.has(l)) {
        seen.add(l);
        inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
      }
    }
  }
});

const pct = (n: number) => `${((n / total) * 100).toFixed(1)}%`;
const print = (title: string, map: Map<string, number>, limit: number) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) console.log(`${pct(v).padStart(6)}  ${k}`);
};
console.log(`window: seconds ${best[0]}..${best.at(-1)} of the profile, ${total} samples`);
print("self time by package", pkgs, 20);
print("self time by function", self, top);
if (inclusiveRe) print(`inclusive time (${inclusiveRe})`, inclusive, 60);
