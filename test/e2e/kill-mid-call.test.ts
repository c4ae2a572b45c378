// SIGKILL in the middle of a call, over the wire (issue 11): the service
// process dies while UploadFileStream holds half a file (in its temp folder, or
// already on its way to S3), and while ConfirmUpload's change is held on its
// way to the database. A new instance then finds every file in a state that
// tells the truth: intent rows expired with their bytes purged, the dead
// process's temp files gone, and no file uploaded without its processing queued.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { FilePurpose, FileService, UploadMetadataSchema, type UploadFileStreamRequest } from "../../gen/file/v1/file_service_pb.js";
import { startBackends, type Backends } from "../support/service.js";
import { killAll, startServiceOn, type ServiceProcess } from "../support/service-process.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { noisePng, solid } from "../support/images.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { eventually } from "../support/poll.js";

let backends: Backends;
let db: mysql.Connection;
let tmp: string;
const proxies: TcpProxy[] = [];
const instances: Array<{ service: ServiceProcess; sessions: Http2SessionManager }> = [];

beforeAll(async () => {
  backends = await startBackends();
  db = await mysql.createConnection({ uri: backends.db.url, timezone: "Z" });
  tmp = await mkdtemp(join(tmpdir(), "fs-kill-uploads-"));
});
afterEach(async () => {
  await killAll(instances);
  for (const proxy of proxies.splice(0)) {
    proxy.resume();
    await proxy.close();
  }
});
afterAll(async () => {
  await db?.end();
  await backends?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// Intent rows (and URLs) expire 3 s after they are made: the new instance's sweep resolves them.
const LIFECYCLE = { UPLOAD_URL_TTL_SECONDS: "3", UPLOAD_EXPIRY_GRACE_SECONDS: "0", TASK_POLL_MS: "200", PROCESSING_POLL_MS: "200" };

async function startInstance(env: Record<string, string> = {}) {
  const { service, grpcTransport } = await startServiceOn(backends, { ...LIFECYCLE, UPLOAD_TMP_DIR: tmp, ...env });
  const { transport, sessions } = grpcTransport();
  instances.push({ service, sessions });
  return { service, sessions, client: createClient(FileService, transport) };
}

async function kill(service: ServiceProcess) {
  service.child.kill("SIGKILL");
  await service.exited;
}

async function proxyTo(port: number) {
  const proxy = await startTcpProxy(port);
  proxies.push(proxy);
  return proxy;
}

type Row = { id: string; status: string; processing_status: string; processing_due_at: Date | null };
const rowsOf = async (owner: string) =>
  (await db.query("SELECT id, status, processing_status, processing_due_at FROM files WHERE owner_id = ? ORDER BY id", [owner]))[0] as Row[];


const s3 = () => new S3Client({ region: "us-east-1", endpoint: backends.s3.endpoint, forcePathStyle: true });
async function keysOf(fileIds: string[]): Promise<string[]> {
  const client = s3();
  try {
    const { Contents = [] } = await client.send(new ListObjectsV2Command({ Bucket: backends.s3.bucket, Prefix: "files/" }));
    return Contents.map((o) => o.Key!).filter((key) => fileIds.some((id) => key.startsWith(`files/${id}/`)));
  } finally {
    client.destroy();
  }
}

/** Metadata, then half of `bytes`, then nothing more until `hold` settles (the process dies first). */
async function* halfThenHold(ownerId: string, bytes: Uint8Array, sized: boolean, hold: Promise<void>): AsyncIterable<UploadFileStreamRequest> {
  const metadata = create(UploadMetadataSchema, {
    ownerId,
    filename: sized ? "sized.png" : "unsized.png",
    contentType: "image/png",
    purpose: FilePurpose.COVER_PHOTO,
    ...(sized ? { sizeBytes: BigInt(bytes.length) } : {}),
  });
  yield { $typeName: "file.v1.UploadFileStreamRequest", payload: { case: "metadata", value: metadata } };
  const half = Math.floor(bytes.length / 2);
  for (let i = 0; i < half; i += 64 * 1024) {
    yield { $typeName: "file.v1.UploadFileStreamRequest", payload: { case: "chunk", value: bytes.subarray(i, Math.min(i + 64 * 1024, half)) } };
  }
  await hold;
}

describe("SIGKILL in the middle of a call", () => {
  it("mid-UploadFileStream: the next instance clears the temp file, expires the intent rows and purges their bytes", async () => {
    const owner = "killed-mid-stream";
    const a = await startInstance();
    const bytes = await noisePng(2 * 1024 * 1024);
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    // One with its size declared (its bytes go on to S3 as they arrive), one without (a temp file first).
    const calls = [true, false].map((sized) => a.client.uploadFileStream(halfThenHold(owner, bytes, sized, hold)).catch((e: unknown) => e));
    const pending = await eventually(() => rowsOf(owner), (rows) => rows.length === 2 && rows.every((r) => r.status === "pending"), 20_000);
    expect(pending.map((r) => r.status)).toEqual(["pending", "pending"]);
    const tempFiles = await eventually(() => readdir(tmp), (names) => names.length > 0, 20_000);
    expect(tempFiles.length).toBeGreaterThan(0);

    await kill(a.service);
    release();
    a.sessions.abort();
    await Promise.all(calls);

    const b = await startInstance();
    expect(await readdir(tmp)).toEqual([]); // the dead process's temp files: cleared at start
    const ids = pending.map((r) => r.id);
    const ended = await eventually(() => rowsOf(owner), (rows) => rows.every((r) => r.status === "expired"), 20_000);
    expect(ended.map((r) => r.status)).toEqual(["expired", "expired"]);
    expect(await eventually(() => keysOf(ids), (keys) => keys.length === 0, 20_000)).toEqual([]);
    // Not half a file: the id answers as expired.
    const { file } = await b.client.getFile({ ownerId: owner, fileId: ids[0]! });
    expect(file?.id).toBe(ids[0]);
  });

  it("mid-ConfirmUpload: the file is pending or uploaded with its processing queued, never between; a retried confirm finishes it", async () => {
    const owner = "killed-mid-confirm";
    const dbProxy = await proxyTo(Number(new URL(backends.db.url).port || 3306));
    const s3Proxy = await proxyTo(Number(new URL(backends.s3.endpoint).port));
    const viaProxies = new URL(backends.db.url);
    viaProxies.port = String(dbProxy.port);
    const a = await startInstance({
      DATABASE_URL: viaProxies.href,
      S3_ENDPOINT: `http://127.0.0.1:${s3Proxy.port}`,
      UPLOAD_URL_TTL_SECONDS: "600",
      DB_QUERY_TIMEOUT_MS: "30000",
      S3_REQUEST_TIMEOUT_MS: "30000",
    });
    const pngs = await Promise.all([0, 1, 2].map((i) => solid(640, 480, "png", `#20${i}0a0`)));
    const { uploads } = await a.client.generateUploadURLs({ ownerId: owner, files: pngs.map((png, i) => fileSpec(png, `m${i}.png`)) });
    const ids = uploads.map((u) => u.fileId);
    // Straight to S3, as a client would (the URLs name the proxy, which passes them on).
    await Promise.all(uploads.map((u, i) => putUpload(u, pngs[i]!)));

    // Held at S3 (its checks), then let on to the database, where its change is held: then killed.
    s3Proxy.pause();
    const confirm = a.client.confirmUpload({ ownerId: owner, fileIds: ids }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    dbProxy.pause();
    s3Proxy.resume();
    await new Promise((r) => setTimeout(r, 500));
    await kill(a.service);
    a.sessions.abort();
    dbProxy.resume();
    await confirm;

    const b = await startInstance();
    const after = await rowsOf(owner);
    for (const row of after) {
      // The one state that would lie: uploaded, processing pending, nothing queued.
      const unqueued = row.status === "uploaded" && row.processing_status === "pending" && row.processing_due_at === null;
      expect({ id: row.id, unqueued }).toEqual({ id: row.id, unqueued: false });
      expect(["pending", "uploaded"]).toContain(row.status);
    }
    const retried = await b.client.confirmUpload({ ownerId: owner, fileIds: ids });
    expect(retried.failures).toEqual([]);
    const done = await eventually(() => rowsOf(owner), (rows) => rows.every((r) => r.processing_status === "completed"), 20_000);
    expect(done.map((r) => [r.status, r.processing_status])).toEqual(ids.map(() => ["uploaded", "completed"]));
  });
});
