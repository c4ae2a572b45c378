// Scenario 7: a mixed workload against one service process, and against two
// processes on the one database, the load spread evenly over both; req/s and
// the ratio 2/1, with the CPU each process used.
//
// The mix (weights per 100 calls), shaped like a file service behind an app
// where reads dominate: pages show files, lists and galleries; uploads are
// rarer, and ConfirmUpload is retried by clients (already-uploaded ids):
//   GetFile                                 50  (one file, by id)
//   BatchGetFiles (10 ids)                  20  (a gallery, a message thread)
//   ListFiles (page of 20)                  15  (an owner's newest files)
//   ConfirmUpload (5 already-uploaded ids)  10  (retries: answered from the database)
//   GenerateUploadURLs (10 files)            5  (a write: one transaction, 10 presigned PUTs)
//
// The same two load generators (grpc-js, each in its own process, half of the
// calls in flight each) drive both variants: against one process both aim at
// it; against two, one each. The second process idles during the first
// variant. Everything shares the machine's cores (2 here): expect little gain.
import { readFile } from "node:fs/promises";
import { execSync } from "node:child_process";
import { FilePurpose } from "../../gen/file/v1/file_service_pb.js";
import { fileSpec, pngLikeBytes, putUpload } from "../../test/support/upload.js";
import { grpcLoad, type LoadCall, type LoadResult } from "../lib/load.js";
import { alternate, median, report, SMOKE, summarize } from "../lib/measure.js";
import { startStack, type Stack } from "../lib/stack.js";

const OWNERS = SMOKE ? 2 : 10;
const FILES_PER_OWNER = SMOKE ? 10 : 50;
const IN_FLIGHT = 64; // in all, half per generator
const CHANNELS = 2; // per generator
const DURATION_MS = SMOKE ? 400 : Number(process.env.BENCH_DURATION_MS ?? 5000);
const WARMUP_MS = SMOKE ? 200 : 1000;

const ONE = "1 service process";
const TWO = "2 service processes (one database)";

const serviceEnv = { PROCESSING_CONCURRENCY: "0" };
const first = await startStack(serviceEnv);
let second: Stack | undefined;
try {
  const owners = await seed(first);
  second = await startStack(serviceEnv, first.backends);
  const calls = workload(owners);

  const pids = { first: first.service.child.pid!, second: second.service.child.pid!, database: databasePid() };
  const details = new Map<string, Array<{ cpu: Record<string, number>; results: LoadResult[] }>>();
  const variant = (name: string, ports: [number, number]) => ({
    name,
    async run() {
      const before = await cpuOf(pids);
      const results = await Promise.all(
        ports.map((port) =>
          grpcLoad(
            { target: `127.0.0.1:${port}`, channels: CHANNELS, inFlight: IN_FLIGHT / 2, durationMs: DURATION_MS, warmupMs: WARMUP_MS, calls },
            first.backends.pki,
          ),
        ),
      );
      const after = await cpuOf(pids);
      // Percent of one core while the generators ran (warm-up included: the load was the
      // same; while they started up, the services idled).
      const window = (WARMUP_MS + DURATION_MS) / 1000;
      const cpu = Object.fromEntries(Object.keys(after).map((k) => [k, (100 * (after[k]! - before[k]!)) / window]));
      const list = details.get(name) ?? [];
      list.push({ cpu, results });
      details.set(name, list);
      return results.reduce((sum, r) => sum + r.perSecond, 0);
    },
  });
  const samples = await alternate([variant(ONE, [first.grpcPort, first.grpcPort]), variant(TWO, [first.grpcPort, second.grpcPort])]);

  const extra: Record<string, unknown> = {
    "mix (weights per 100 calls)": Object.fromEntries(calls.map((c) => [c.method, c.weight])),
    "owners × uploaded files each": `${OWNERS} × ${FILES_PER_OWNER}`,
    "calls in flight (2 generators)": String(IN_FLIGHT),
    "duration per sample (ms)": DURATION_MS,
  };
  for (const [name, list] of details) {
    const med = (pick: (r: (typeof list)[number]) => number) => median(list.map(pick));
    const cpu = (key: string) => Math.round(med((r) => r.cpu[key] ?? 0));
    extra[`${name}: CPU % of a core (medians): service 1 / service 2 / MariaDB / generators`] =
      `${cpu("first")} / ${cpu("second")} / ${cpu("database")} / ${Math.round(
        med((r) => r.results.reduce((sum, x) => sum + (x.clientCpuUsPerCall * x.perSecond) / 1e4, 0)),
      )}`;
    extra[`${name}: service CPU µs per call, both processes (median)`] = Math.round(
      med((r) => ((r.cpu.first ?? 0) + (r.cpu.second ?? 0)) * 1e4 / r.results.reduce((sum, x) => sum + x.perSecond, 0)),
    );
    extra[`${name}: p50 / p99 ms (medians, worse generator)`] =
      `${med((r) => Math.max(...r.results.map((x) => x.p50Ms))).toFixed(1)} / ${med((r) => Math.max(...r.results.map((x) => x.p99Ms))).toFixed(1)}`;
  }
  await report(
    summarize(
      { scenario: "7-scale-out", unit: "req/s", higherIsBetter: true, baseline: ONE, goal: "report the ratio 2/1 (2 cores: expect little)", extra },
      samples,
    ),
  );
} finally {
  await second?.stop();
  await first.stop();
}

/** Uploaded files through the presigned flow, 10 per GenerateUploadURLs; their ids per owner. */
async function seed(stack: Stack): Promise<Map<string, string[]>> {
  const client = stack.client();
  const owners = new Map<string, string[]>();
  for (let o = 0; o < OWNERS; o++) {
    const ownerId = `scale-owner-${o}`;
    const ids: string[] = [];
    for (let n = 0; n < FILES_PER_OWNER; n += 10) {
      const bytes = Array.from({ length: Math.min(10, FILES_PER_OWNER - n) }, () => pngLikeBytes(2048));
      const { uploads } = await client.generateUploadURLs({
        ownerId,
        files: bytes.map((b, i) => ({ ...fileSpec(b, `f${n + i}.png`), purpose: FilePurpose.POST_ATTACHMENT })),
      });
      await Promise.all(
        uploads.map(async (u, i) => {
          const res = await putUpload(u, bytes[i]!);
          if (res.status !== 200) throw new Error(`seed PUT ${res.status}`);
        }),
      );
      const { files, failures } = await client.confirmUpload({ ownerId, fileIds: uploads.map((u) => u.fileId) });
      if (failures.length > 0) throw new Error(`seed confirm: ${failures[0]!.reason}`);
      ids.push(...files.map((f) => f.id));
    }
    owners.set(ownerId, ids);
  }
  return owners;
}

function workload(owners: Map<string, string[]>): LoadCall[] {
  const service = "file.v1.FileService";
  const all = [...owners].flatMap(([ownerId, ids]) => ids.map((fileId) => ({ ownerId, fileId })));
  const groups = (size: number) =>
    [...owners].flatMap(([ownerId, ids]) => {
      const out: Array<{ ownerId: string; fileIds: string[] }> = [];
      for (let i = 0; i + size <= ids.length; i += size) out.push({ ownerId, fileIds: ids.slice(i, i + size) });
      return out;
    });
  const md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="; // any well-formed digest: the PUTs are never made
  const uploadBatch = (k: number) => ({
    ownerId: `scale-uploader-${k % 4}`,
    files: Array.from({ length: 10 }, (_, i) => ({ filename: `new-${i}.jpg`, contentType: "image/jpeg", sizeBytes: String(500_000 + i), md5, purpose: "FILE_PURPOSE_POST_ATTACHMENT" })),
  });
  return [
    { service, method: "GetFile", weight: 50, requests: all },
    { service, method: "BatchGetFiles", weight: 20, requests: groups(10) },
    { service, method: "ListFiles", weight: 15, requests: [...owners.keys()].map((ownerId) => ({ ownerId, pageSize: 20 })) },
    { service, method: "ConfirmUpload", weight: 10, requests: groups(5) },
    { service, method: "GenerateUploadURLs", weight: 5, requests: Array.from({ length: 4 }, (_, k) => uploadBatch(k)) },
  ];
}

/** MariaDB's server process, when this machine runs it (its CPU is reported too). */
function databasePid(): number | undefined {
  try {
    const pid = Number(execSync("pgrep -o -x mariadbd || pgrep -o -x mysqld").toString().trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) of each process so far. */
async function cpuOf(pids: Record<string, number | undefined>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
    out[name] = (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks of 10 ms
  }
  return out;
}
