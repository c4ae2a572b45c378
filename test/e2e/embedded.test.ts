// Zero setup: the real entry point started in an empty directory with no
// backend settings (only free ports, so test files can run side by side) runs
// the whole service on SQLite, local disk, a dev PKI and a dev JWT secret, and
// everything works with the credentials and commands it prints.
import { exec } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FileService, FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { bearer } from "../support/service.js";
import { freePort, REPO_ROOT, startServiceProcess, type ServiceProcess } from "../support/service-process.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { readmeBlocks } from "../support/readme.js";

const sh = promisify(exec);

let dir: string;
let service: ServiceProcess;
let httpPort: number;
let grpcPort: number;
let banner: string;
let sessions: Http2SessionManager;
let internal: Client<typeof FileService>;
let publicClient: Client<typeof FileService>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-embedded-"));
  // The printed commands use `npx buf` from the project, as a person in the repo would.
  await symlink(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));
  // The README's walk-through uploads the picture the repository ships, and
  // `npm run token` runs where `npm start` ran, as in a clone.
  for (const entry of ["examples", "package.json", "tsconfig.json", "scripts", "src", "gen"]) {
    await symlink(join(REPO_ROOT, entry), join(dir, entry));
  }
  [grpcPort, httpPort] = [await freePort(), await freePort()];
  service = startServiceProcess({
    cwd: dir,
    env: { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort), LOG_LEVEL: "info", SHUTDOWN_DRAIN_DELAY_MS: "0" },
  });
  await service.waitFor(/Try it:[\s\S]*Authorization: Bearer[^\n]*\n/);
  banner = service.stderr();

  const certs = join(dir, "data/dev/certs");
  const [ca, cert, key] = await Promise.all(["ca.pem", "client.pem", "client-key.pem"].map((f) => readFile(join(certs, f), "utf8")));
  const grpcUrl = `https://localhost:${grpcPort}`;
  sessions = new Http2SessionManager(grpcUrl, undefined, { ca, cert, key });
  internal = createClient(FileService, createGrpcTransport({ baseUrl: grpcUrl, sessionManager: sessions }));
  const token = (await readFile(join(dir, "data/dev/token"), "utf8")).trim();
  publicClient = createClient(
    FileService,
    createConnectTransport({ baseUrl: `http://localhost:${httpPort}`, httpVersion: "1.1", interceptors: [bearer(token)] }),
  );
});

afterAll(async () => {
  sessions?.abort();
  if (service && service.child.exitCode === null) {
    service.child.kill("SIGTERM");
    await service.exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The two commands of the banner, continuation lines joined. */
function printedCommands(): { bufCurl: string; curl: string } {
  const commands = banner.replace(/\\\n\s*/g, "").split("\n").map((l) => l.trim());
  return {
    bufCurl: commands.find((l) => l.startsWith("npx buf curl"))!,
    curl: commands.find((l) => l.startsWith("curl "))!,
  };
}

describe("npm start with no settings", () => {
  it("creates its data folder, dev PKI and dev token, and says so", async () => {
    for (const f of ["files.db", "dev/certs/ca.pem", "dev/certs/server.pem", "dev/certs/server-key.pem", "dev/certs/client.pem", "dev/certs/client-key.pem", "dev/token"]) {
      expect(existsSync(join(dir, "data", f)), f).toBe(true);
    }
    expect(banner).toContain("embedded defaults: database (SQLite), object store (local disk), TLS (dev PKI), JWT (dev secret)");
    expect(banner).toContain(`https://localhost:${grpcPort}`);
    expect(banner).toContain(`http://localhost:${httpPort}`);
  });

  it("answers the printed buf curl (gRPC + mTLS, via reflection) and curl (Connect JSON + dev token)", async () => {
    const { bufCurl, curl } = printedCommands();
    expect(bufCurl).not.toContain("--schema"); // reflection supplies the schema
    const viaGrpc = await sh(bufCurl, { cwd: dir });
    expect(JSON.parse(viaGrpc.stdout)).toEqual({});
    const viaJson = await sh(curl, { cwd: dir });
    expect(JSON.parse(viaJson.stdout)).toEqual({});
  });

  it("lists every method through reflection, without a schema", async () => {
    const { stdout } = await sh(
      `npx buf curl --protocol grpc --cacert data/dev/certs/ca.pem --cert data/dev/certs/client.pem --key data/dev/certs/client-key.pem --list-methods https://localhost:${grpcPort}`,
      { cwd: dir },
    );
    expect(stdout).toContain("file.v1.FileService/GenerateUploadURLs");
    expect(stdout).toContain("grpc.health.v1.Health/Watch");
  });

  it("runs the presigned flow over both listeners, with uploads going to the service itself", async () => {
    const bytes = pngLikeBytes(50_000);
    // A backend reserves the upload for user demo over gRPC + mTLS…
    const { uploads } = await internal.generateUploadURLs({ ownerId: "demo", files: [fileSpec(bytes, "holiday.png")] });
    const upload = uploads[0]!;
    expect(upload.url.startsWith(`http://localhost:${httpPort}/objects/`)).toBe(true);
    expect(Object.keys(upload.headers).sort()).toEqual(["Content-Length", "Content-MD5", "Content-Type"]);
    // …the browser PUTs the bytes to the presigned URL…
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes })).status).toBe(200);
    // …and confirms, downloads and lists over Connect JSON with the dev token.
    const confirmed = await publicClient.confirmUpload({ fileIds: [upload.fileId] });
    expect(confirmed.failures).toEqual([]);
    expect(confirmed.files[0]?.status).toBe(FileStatus.UPLOADED);
    const { urls } = await publicClient.getDownloadURLs({ fileIds: [upload.fileId], attachment: true });
    const download = await fetch(urls[0]!.url);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("image/png");
    expect(download.headers.get("content-disposition")).toBe("attachment; filename=holiday.png");
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    const ranged = await fetch(urls[0]!.url, { headers: { Range: "bytes=0-7" } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(0, 8))).toBe(true);
    expect((await publicClient.listFiles({})).files.map((f) => f.id)).toEqual([upload.fileId]);

    await internal.deleteFile({ ownerId: "demo", fileId: upload.fileId });
    expect((await fetch(urls[0]!.url)).status).toBe(404);
  });

  it("enforces signature, MD5, length and path rules on its own object URLs", async () => {
    const bytes = pngLikeBytes(1000);
    const { uploads } = await internal.generateUploadURLs({ ownerId: "demo", files: [fileSpec(bytes)] });
    const upload = uploads[0]!;
    const url = new URL(upload.url);
    const objectsDir = join(dir, "data/objects");

    const tampered = new URL(url);
    tampered.searchParams.set("X-Signature", "0".repeat(64));
    expect((await fetch(tampered, { method: "PUT", headers: upload.headers, body: bytes })).status).toBe(403);

    const otherBytes = pngLikeBytes(1000); // same length, so only the MD5 can tell
    expect((await fetch(url, { method: "PUT", headers: upload.headers, body: otherBytes })).status).toBe(400);

    // Another length than was signed (a consistent request, so only the signature can tell).
    const shorter = await fetch(url, {
      method: "PUT",
      headers: { ...upload.headers, "Content-Length": "999" },
      body: bytes.subarray(0, 999),
    });
    expect([400, 403]).toContain(shorter.status);

    for (const trick of ["..%2f..%2fdev%2ftoken", "%2e%2e/%2e%2e/dev/token", "files%2f..%2f..%2fdev%2ftoken", "..%252f..%252fdev%252ftoken"]) {
      const res = await fetch(`http://localhost:${httpPort}/objects/${trick}${url.search}`);
      expect([400, 403, 404], trick).toContain(res.status);
      expect(await res.text()).not.toContain("eyJ"); // never the token file
    }

    // Nothing of the refused uploads was kept, not even temp files.
    expect(await listTree(objectsDir)).toEqual([]);
    const confirm = await internal.confirmUpload({ ownerId: "demo", fileIds: [upload.fileId] });
    expect(confirm.failures[0]?.reason).toContain("nothing was uploaded");
  });

  it("serves health probes and Prometheus metrics about what it did", async () => {
    expect((await fetch(`http://localhost:${httpPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://localhost:${httpPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "serving", dependencies: { database: { ok: true }, object_store: { ok: true } } });

    const metrics = await (await fetch(`http://localhost:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/rpc_requests_total\{[^}]*method="file\.v1\.FileService\/GenerateUploadURLs"[^}]*code="ok"[^}]*transport="internal"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/rpc_requests_total\{[^}]*method="file\.v1\.FileService\/ConfirmUpload"[^}]*transport="public"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/rpc_duration_seconds_bucket\{/);
    expect(metrics).toMatch(/uploaded_bytes_total(\{[^}]*\})? 50000/);
    expect(metrics).toMatch(/files\{[^}]*status="deleted"[^}]*\} 1/);
    expect(metrics).toMatch(/dependency_duration_seconds_count\{[^}]*dependency="database"/);
    expect(metrics).toMatch(/dependency_duration_seconds_count\{[^}]*dependency="object_store"/);
  });

  it("logs one JSON line per RPC with its trace id, and never a token or signature", async () => {
    const lines = service.stdout().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const rpcs = lines.filter((l) => l.msg === "rpc");
    expect(rpcs.length).toBeGreaterThan(3);
    for (const line of rpcs) {
      expect(line).toMatchObject({ rpc: expect.any(String), code: expect.any(String), ms: expect.any(Number), principal: expect.any(String) });
      expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
    const token = (await readFile(join(dir, "data/dev/token"), "utf8")).trim();
    expect(service.stdout()).not.toContain(token);
    expect(service.stdout()).not.toContain("X-Signature");
  });

  // These upload more files: after the tests that count what was uploaded.
  it("mints a working token for any user with `npm run token -- <user>` and no settings, from the dev secret under DATA_DIR", async () => {
    const { stdout } = await sh("npm run -s token -- alice", { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    const token = stdout.trim();
    const alice = createClient(
      FileService,
      createConnectTransport({ baseUrl: `http://localhost:${httpPort}`, httpVersion: "1.1", interceptors: [bearer(token)] }),
    );
    const { uploads } = await alice.generateUploadURLs({ files: [fileSpec(pngLikeBytes(100))] });
    const { file } = await internal.getFile({ ownerId: "alice", fileId: uploads[0]!.fileId });
    expect(file?.ownerId).toBe("alice");
  });

  it("runs the README's walk-through as printed, block after block, to a checked download", async () => {
    const script = ["set -euo pipefail", ...readmeBlocks("walkthrough")].join("\n");
    const { stdout } = await sh(script, {
      cwd: dir,
      shell: "/bin/bash",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort) },
      timeout: 90_000,
    });
    expect(stdout).toMatch(/^file [0-9a-f-]{36}, upload to http:\/\/localhost:\d+\/objects\//m);
    expect(stdout).toContain("FILE_STATUS_UPLOADED\n");
    expect(stdout).toContain("processing: PROCESSING_STATUS_COMPLETED");
    expect(stdout).toContain("photo.jpg FILE_STATUS_UPLOADED");
    expect(stdout).toContain("download: the original, byte for byte");
    expect(stdout).toMatch(/WEBP thumbnail: \d+ bytes/);
    expect(stdout).toMatch(/FILE_STATUS_UPLOADED large,medium,thumb/); // UploadFile, an avatar
    expect(stdout).toMatch(/FILE_STATUS_UPLOADED [0-9a-f]{64}/); // UploadFileStream
    expect(stdout).toMatch(/"status": ?"SERVING"/);
  }, 120_000);

  it("lets a web app on a local dev server call it (CORS), and says so in the banner", async () => {
    expect(banner).toContain("CORS:      http://localhost:*, http://127.0.0.1:*");
    const preflight = (origin: string) =>
      fetch(`http://localhost:${httpPort}/file.v1.FileService/ListFiles`, {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization" },
      });
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"]) {
      const res = await preflight(origin);
      expect(res.headers.get("access-control-allow-origin"), origin).toBe(origin);
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    }
    for (const origin of ["https://evil.example", "http://localhost.evil.example:5173", "http://localhost:5173.evil.example"]) {
      expect((await preflight(origin)).headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("keeps its dev PKI and secret across restarts, so handed-out credentials keep working", async () => {
    const ca = await readFile(join(dir, "data/dev/certs/ca.pem"), "utf8");
    service.child.kill("SIGTERM");
    expect(await service.exited).toEqual({ code: 0, signal: null });
    service = startServiceProcess({
      cwd: dir,
      env: { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort), SHUTDOWN_DRAIN_DELAY_MS: "0" },
    });
    await service.waitFor(/Try it:/);
    expect(await readFile(join(dir, "data/dev/certs/ca.pem"), "utf8")).toBe(ca);
    sessions.abort();
    const certs = join(dir, "data/dev/certs");
    const [caPem, cert, key] = await Promise.all(["ca.pem", "client.pem", "client-key.pem"].map((f) => readFile(join(certs, f), "utf8")));
    sessions = new Http2SessionManager(`https://localhost:${grpcPort}`, undefined, { ca: caPem, cert, key });
    internal = createClient(FileService, createGrpcTransport({ baseUrl: `https://localhost:${grpcPort}`, sessionManager: sessions }));
    // The earlier token still verifies, and the earlier (deleted) file is still on record.
    expect((await publicClient.listFiles({ status: FileStatus.DELETED })).files).toHaveLength(1);
  });
});

async function listTree(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

