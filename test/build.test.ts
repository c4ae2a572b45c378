// The production build (npm run build), as a deploy runs it: bundled into
// dist/, with the production dependencies only, started with plain node (no
// tsx), it serves the whole presigned flow, images processed (sharp stays an
// installed dependency, not bundled).
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, REPO_ROOT, startServiceProcess, type ServiceProcess } from "./support/service-process.js";
import { fileSpec } from "./support/upload.js";
import { solid } from "./support/images.js";
import { createTestDatabase } from "./support/database.js";

const run = promisify(execFile);
let deploy: string;
let service: ServiceProcess | undefined;

beforeAll(async () => {
  deploy = await mkdtemp(join(tmpdir(), "fs-build-"));
  await run(process.execPath, [join(REPO_ROOT, "scripts/build.mjs"), join(deploy, "dist")], { cwd: REPO_ROOT });
  // What the Docker image has beside dist/: migrations/ and the installed dependencies.
  await cp(join(REPO_ROOT, "migrations"), join(deploy, "migrations"), { recursive: true });
  await symlink(join(REPO_ROOT, "node_modules"), join(deploy, "node_modules"));
}, 60_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) {
    service.child.kill("SIGTERM");
    await service.exited;
  }
  await rm(deploy, { recursive: true, force: true });
});

describe("npm run build", () => {
  it("bundles no dev dependency: a production install is enough to run it", async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    const meta = JSON.parse(await readFile(join(deploy, "dist/meta.json"), "utf8")) as { inputs: Record<string, unknown> };
    const bundled = new Set(Object.keys(meta.inputs).flatMap((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.slice(1) ?? []));
    expect(bundled.size).toBeGreaterThan(10);
    expect([...bundled].filter((name) => name in pkg.devDependencies)).toEqual([]);
  });

  it("migrates a MySQL database with its own entry (npm run migrate:prod, the image's migrate step)", async () => {
    const db = await createTestDatabase({ migrate: false });
    try {
      const { stdout } = await run(process.execPath, [join(deploy, "dist/migrate.mjs")], { cwd: deploy, env: { ...process.env, DATABASE_URL: db.url } });
      expect(stdout).toMatch(/^migrate: applied \d{4}_/);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it("runs with plain node in zero-setup mode and serves the presigned flow, images processed", async () => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    service = startServiceProcess({
      cwd: deploy,
      nodeArgs: [join(deploy, "dist/main.mjs")],
      env: { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort), LOG_LEVEL: "warn", SHUTDOWN_DRAIN_DELAY_MS: "0" },
    });
    await service.waitFor(/Authorization: Bearer/);
    const token = (await readFile(join(deploy, "data/dev/token"), "utf8")).trim();
    const call = async <T>(method: string, body: unknown): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/file.v1.FileService/${method}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as T;
    };
    const png = await solid(320, 240, "png");
    const spec = fileSpec(png);
    const { uploads } = await call<{ uploads: Array<{ fileId: string; url: string; headers: Record<string, string> }> }>("GenerateUploadURLs", {
      files: [{ ...spec, sizeBytes: String(spec.sizeBytes), purpose: "FILE_PURPOSE_AVATAR" }],
    });
    const upload = uploads[0]!;
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: png })).status).toBe(200);
    await call("ConfirmUpload", { fileIds: [upload.fileId] });
    let file: { processingStatus?: string; variants?: unknown[] } = {};
    for (let i = 0; i < 100 && file.processingStatus !== "PROCESSING_STATUS_COMPLETED"; i++) {
      ({ file } = await call<{ file: typeof file }>("GetFile", { fileId: upload.fileId }));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(file.processingStatus).toBe("PROCESSING_STATUS_COMPLETED");
    expect(file.variants).toHaveLength(3);
    service.child.kill("SIGTERM");
    expect((await service.exited).code).toBe(0);
  }, 60_000);
});
