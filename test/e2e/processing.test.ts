// Background processing across service instances sharing one MySQL database:
// claims are exclusive, and a job whose worker died is taken up again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { FileService, ProcessingStatus } from "../../gen/file/v1/file_service_pb.js";
import { startBackends, type Backends } from "../support/service.js";
import { killAll, startServiceOn, type ServiceProcess } from "../support/service-process.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { solid } from "../support/images.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { eventually } from "../support/poll.js";

let backends: Backends;
let db: mysql.Connection;
const instances: Array<{ service: ServiceProcess; sessions: Http2SessionManager }> = [];

beforeAll(async () => {
  backends = await startBackends();
  db = await mysql.createConnection(backends.db.url);
});
afterEach(async () => {
  await killAll(instances);
});
afterAll(async () => {
  await db?.end();
  await backends?.stop();
});

async function startInstance(env: Record<string, string>) {
  const { service, grpcTransport } = await startServiceOn(backends, { PROCESSING_POLL_MS: "100", ...env });
  const { transport, sessions } = grpcTransport();
  instances.push({ service, sessions });
  return { service, client: createClient(FileService, transport) };
}

type Client = Awaited<ReturnType<typeof startInstance>>["client"];

/** Reserves, uploads and confirms `count` distinct PNGs; returns their ids. */
async function uploadAndConfirm(client: Client, ownerId: string, count: number, seed: number): Promise<string[]> {
  const pngs = await Promise.all(
    Array.from({ length: count }, (_, i) => solid(900, 700, "png", `#${(seed * 40 + i * 7).toString(16).padStart(6, "0").slice(-6)}`)),
  );
  const { uploads } = await client.generateUploadURLs({ ownerId, files: pngs.map((png, i) => fileSpec(png, `f${seed}-${i}.png`)) });
  await Promise.all(uploads.map((u, i) => putUpload(u, pngs[i]!)));
  const { files, failures } = await client.confirmUpload({ ownerId, fileIds: uploads.map((u) => u.fileId) });
  expect(failures).toEqual([]);
  return files.map((f) => f.id);
}

async function processingRows(ids: readonly string[]) {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT id, processing_status AS status, processing_attempts AS attempts, processing_locked_by AS lockedBy FROM files WHERE id IN (?)",
    [ids],
  );
  return rows as Array<{ id: string; status: string; attempts: number; lockedBy: string | null }>;
}


/** How many "processed" log lines each instance wrote per file id. */
function processedBy(service: ServiceProcess): string[] {
  return service
    .stdout()
    .split("\n")
    .filter((l) => l.includes('"msg":"processed"'))
    .map((l) => (JSON.parse(l) as { fileId: string }).fileId);
}

describe("two instances on one database", () => {
  it("process 20 confirmed files exactly once each", async () => {
    const one = await startInstance({ PROCESSING_CONCURRENCY: "2" });
    const two = await startInstance({ PROCESSING_CONCURRENCY: "2" });
    const ids = [
      ...(await uploadAndConfirm(one.client, "twice-owner", 10, 1)),
      ...(await uploadAndConfirm(two.client, "twice-owner", 10, 2)),
    ];
    const rows = await eventually(() => processingRows(ids), (r) => r.every((row) => row.status === "completed"), 30_000);
    expect(rows).toHaveLength(20);
    expect(rows.every((row) => row.attempts === 1)).toBe(true);

    // A row is committed before its worker writes the log line, and the line crosses a pipe.
    await eventually(async () => [...processedBy(one.service), ...processedBy(two.service)], (all) => all.length >= ids.length, 5_000);
    const byOne = processedBy(one.service);
    const byTwo = processedBy(two.service);
    expect([...byOne, ...byTwo].sort()).toEqual([...ids].sort()); // each file once, no file twice
    expect(byOne.length).toBeGreaterThan(0); // both instances took part
    expect(byTwo.length).toBeGreaterThan(0);
    const { files } = await one.client.batchGetFiles({ ownerId: "twice-owner", fileIds: ids });
    expect(files.every((f) => f.processingStatus === ProcessingStatus.COMPLETED && f.variants.length === 2)).toBe(true);
  });
});

describe("a worker killed mid-job", () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(Number(new URL(backends.s3.endpoint).port));
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("has its job resumed by another instance once the lease expires", async () => {
    // Instance A reaches S3 through the proxy, so its job can be stalled mid-way.
    const stalled = await startInstance({
      S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      PROCESSING_LEASE_MS: "1500",
    });
    // Instance C only takes requests (no worker), so A is the one that claims.
    const front = await startInstance({ PROCESSING_CONCURRENCY: "0" });
    proxy.pause();
    const [id] = await uploadAndConfirm(front.client, "killed-owner", 1, 3);
    const claimed = await eventually(() => processingRows([id!]), (r) => r[0]?.status === "processing", 30_000);
    expect(claimed[0]!.lockedBy).toContain(`-${stalled.service.child.pid}-`);

    stalled.service.child.kill("SIGKILL");
    await stalled.service.exited;
    proxy.resume();

    const rescuer = await startInstance({});
    const done = await eventually(() => processingRows([id!]), (r) => r[0]?.status === "completed", 20_000);
    expect(done[0]!.attempts).toBe(2); // A's claim, then the rescuer's
    expect(done[0]!.lockedBy).toBeNull();
    // The row is committed before the worker writes its log line, and the line crosses a pipe.
    expect(await eventually(async () => processedBy(rescuer.service), (lines) => lines.length > 0, 5_000)).toEqual([id]);
    const { file } = await rescuer.client.getFile({ ownerId: "killed-owner", fileId: id! });
    expect(file?.variants.map((v) => v.name)).toEqual(["large", "thumb"]);
  });
});
