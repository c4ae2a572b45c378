// Scenario 5: UploadFileStream of 20 MiB in 64 KiB chunks over gRPC + mTLS,
// against a direct PUT of the same bytes to the object store, in MiB/s; and
// the service's peak RSS while 8 such streams run at once.
//
// Two ways of streaming: with UploadMetadata.size_bytes the service PUTs the
// bytes to the store while they arrive; without it, it receives the whole
// file first (to a temp file) and stores it afterwards.
//
// The uploads (and the direct PUTs) run in a client process of their own: this
// file again, in client mode, holding only connect-node and the generated
// code. In the harness process (sharp, the test support) every major GC walks
// a heap several times larger, and the client then cost more CPU than the
// service: about 260 against 95 ms per 20 MiB upload, measured on 2 cores.
// The client also reads the service's (and the S3 server's) CPU time from
// /proc around every upload, so each row comes with its cost per process.
import { execFile } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FilePurpose, FileService } from "../../gen/file/v1/file_service_pb.js";
import { alternate, report, SMOKE, summarize } from "../lib/measure.js";

const MIB = 1024 * 1024;
const SIZE = SMOKE ? 2 * MIB : 20 * MIB;
const CHUNK = 64 * 1024;
const PARALLEL = SMOKE ? 2 : 8;

const SIZED = "UploadFileStream with size_bytes (stored while it arrives)";
const UNSIZED = "UploadFileStream without size_bytes (received, then stored)";
const DIRECT = "direct PUT to the object store";
const SHORT: Record<string, string> = { [SIZED]: "size_bytes", [UNSIZED]: "no size", [DIRECT]: "direct PUT" };

interface ClientSpec {
  grpcUrl: string;
  ca: string;
  cert: string;
  key: string;
  /** A PNG followed by 32 bytes the client randomizes per upload (decoders ignore data after a PNG's end). */
  imageFile: string;
  servicePid: number;
  s3Pid?: number;
}

interface ClientResult {
  samples: Record<string, number[]>;
  /** CPU milliseconds per upload: client, service, S3 server. */
  cpu: Record<string, [number, number, number]>;
  peakRss: Record<string, { before: number; peak: number }>;
}

if (process.env.UPLOAD_CLIENT_SPEC !== undefined) {
  const result = await runClient(JSON.parse(process.env.UPLOAD_CLIENT_SPEC) as ClientSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await runScenario();
}

async function runScenario(): Promise<void> {
  // Only the harness needs these; the client process stays lean.
  const { noisePng } = await import("../../test/support/images.js");
  const { loadServiceEnv, startStack } = await import("../lib/stack.js");

  // Processing is left queued (no worker) so only the upload path is measured;
  // BENCH_CPU_PROF and BENCH_SERVICE_ENV work as in the load scenarios.
  const stack = await startStack(loadServiceEnv());
  const imageFile = join(tmpdir(), `bench-upload-stream-${process.pid}.png`);
  try {
    await writeFile(imageFile, Buffer.concat([await noisePng(SIZE - 64), Buffer.alloc(32)]));
    const servicePid = stack.service.child.pid!;
    const s3Pid = stack.backends.s3.pid;
    const { ca, hangout } = stack.backends.pki;
    const spec: ClientSpec = { grpcUrl: stack.grpcUrl, ca, cert: hangout.cert, key: hangout.key, imageFile, servicePid, s3Pid };
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", import.meta.resolve("tsx"), import.meta.filename], {
      env: { ...process.env, UPLOAD_CLIENT_SPEC: JSON.stringify(spec) },
      maxBuffer: 16 * MIB,
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as ClientResult;
    const round = (values: number[]) => values.map((v) => Math.round(v));
    await report(
      summarize(
        {
          scenario: "5-upload-stream",
          unit: "MiB/s",
          higherIsBetter: true,
          baseline: DIRECT,
          goal: ">= 0.70x",
          extra: {
            "bytes per upload": SIZE,
            // What the service's two digests of every byte cost (src/files/upload-intake.ts), in this process.
            "hashing one upload in 64 KiB chunks, in process, ms (median of 5) [MD5, SHA-256]": [hashMs("md5"), hashMs("sha256")],
            "CPU ms per upload [client, service, S3 server]": Object.fromEntries(
              Object.entries(result.cpu).map(([variant, ms]) => [SHORT[variant] ?? variant, round(ms)]),
            ),
            ...Object.fromEntries(
              Object.entries(result.peakRss).flatMap(([label, { before, peak }]) => [
                [`service peak RSS with ${PARALLEL} concurrent ${SIZE / MIB} MiB streams, ${label} (MiB)`, peak],
                [`service peak RSS just before those (MiB), ${label}`, before],
              ]),
            ),
          },
        },
        new Map(Object.entries(result.samples)),
      ),
    );
  } finally {
    await rm(imageFile, { force: true });
    await stack.stop();
  }
}

/** ms to hash SIZE bytes in CHUNK pieces with `algorithm`, median of 5. */
function hashMs(algorithm: string): number {
  const bytes = randomFillSync(Buffer.alloc(SIZE));
  const times = Array.from({ length: 5 }, () => {
    const start = performance.now();
    const hash = createHash(algorithm);
    for (let i = 0; i < bytes.length; i += CHUNK) hash.update(bytes.subarray(i, i + CHUNK));
    hash.digest();
    return performance.now() - start;
  }).sort((a, b) => a - b);
  return Math.round(times[2]! * 10) / 10;
}

async function runClient(spec: ClientSpec): Promise<ClientResult> {
  const sessionManager = new Http2SessionManager(spec.grpcUrl, undefined, { ca: spec.ca, cert: spec.cert, key: spec.key });
  const client = createClient(FileService, createGrpcTransport({ baseUrl: spec.grpcUrl, sessionManager }));
  const image = await readFile(spec.imageFile);
  const fresh = (bytes: Buffer) => randomFillSync(bytes, bytes.length - 32);

  async function* stream(bytes: Buffer, sized: boolean) {
    const sizeBytes = sized ? BigInt(bytes.length) : undefined;
    yield { payload: { case: "metadata" as const, value: { ownerId: "bench", filename: "b.png", contentType: "image/png", purpose: FilePurpose.COVER_PHOTO, processing: { async: true }, sizeBytes } } };
    for (let i = 0; i < bytes.length; i += CHUNK) yield { payload: { case: "chunk" as const, value: bytes.subarray(i, i + CHUNK) } };
  }
  const uploadStream = async (bytes: Buffer, sized: boolean) => {
    const { file } = await client.uploadFileStream(stream(bytes, sized));
    if (file?.sizeBytes !== BigInt(bytes.length)) throw new Error("upload came back wrong");
  };
  const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest("base64");
  const directPut = async (bytes: Buffer) => {
    const files = [{ filename: "b.png", contentType: "image/png", sizeBytes: BigInt(bytes.length), md5: md5(bytes), purpose: FilePurpose.COVER_PHOTO }];
    const { uploads } = await client.generateUploadURLs({ ownerId: "bench-direct", files });
    const upload = uploads[0]!;
    const start = performance.now();
    const res = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes });
    if (res.status !== 200) throw new Error(`PUT ${res.status}`);
    return performance.now() - start;
  };
  const mibPerS = (bytes: number, ms: number) => bytes / MIB / (ms / 1000);

  const cpuMs = async (pid: number | undefined) => {
    if (pid === undefined) return 0;
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
  };
  const cpu: Record<string, [number, number, number]> = {};
  const counted = (name: string, run: () => Promise<number>) => ({
    name,
    async run() {
      const [c0, s0, r0] = [process.cpuUsage(), await cpuMs(spec.servicePid), await cpuMs(spec.s3Pid)];
      const value = await run();
      const c = process.cpuUsage(c0);
      const [s1, r1] = [await cpuMs(spec.servicePid), await cpuMs(spec.s3Pid)];
      const sum = (cpu[name] ??= [0, 0, 0]);
      sum[0] += (c.user + c.system) / 1000;
      sum[1] += s1 - s0;
      sum[2] += r1 - r0;
      return value;
    },
  });

  // Warm-up: TLS session, JIT, pools.
  await uploadStream(fresh(image), true);
  await uploadStream(fresh(image), false);
  await directPut(fresh(image));
  const timed = (sized: boolean) => async () => {
    const bytes = fresh(image);
    const start = performance.now();
    await uploadStream(bytes, sized);
    return mibPerS(bytes.length, performance.now() - start);
  };
  const samples = await alternate([
    counted(SIZED, timed(true)),
    counted(UNSIZED, timed(false)),
    counted(DIRECT, async () => mibPerS(image.length, await directPut(fresh(image)))),
  ]);
  for (const [name, sum] of Object.entries(cpu)) {
    const n = samples.get(name)!.length;
    cpu[name] = sum.map((ms) => ms / n) as [number, number, number];
  }

  // Peak memory of the service while PARALLEL streams run at once, each path.
  const status = `/proc/${spec.servicePid}/status`;
  const peakMiB = async () => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(status, "utf8"))?.[1] ?? 0) / 1024;
  const copies = Array.from({ length: PARALLEL }, () => Buffer.from(image));
  const peakRss: ClientResult["peakRss"] = {};
  for (const [label, sized] of [["size_bytes", true], ["no size", false]] as const) {
    await writeFile(`/proc/${spec.servicePid}/clear_refs`, "5").catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    const before = await peakMiB();
    await Promise.all(copies.map((bytes) => uploadStream(fresh(bytes), sized)));
    peakRss[label] = { before, peak: await peakMiB() };
  }
  sessionManager.abort();
  return { samples: Object.fromEntries(samples), cpu, peakRss };
}
