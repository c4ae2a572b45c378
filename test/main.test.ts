// The real entry point, as `npm start` runs it: a child process that reads its
// settings from the environment, serves, and stops cleanly on SIGTERM.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_SECRET, serviceEnv, startBackends, type Backends } from "./support/service.js";
import { freePort, REPO_ROOT, startServiceProcess } from "./support/service-process.js";

const startMain = (env: Record<string, string>) => startServiceProcess({ env });

describe("npm start, the command itself", () => {
  // npm → sh → node: the banner is the service's, the rest would be npm's or Node's.
  it("starts with no settings and no .env, and prints the banner without notices", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "fs-npm-start-"));
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const child = spawn("npm", ["start"], {
      cwd: REPO_ROOT,
      // The install step is npm start's own business (a fresh clone); here it would race the suite.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: dataDir,
        GRPC_PORT: String(grpcPort),
        HTTP_PORT: String(httpPort),
        FILE_SERVICE_SKIP_INSTALL: "1",
      },
      detached: true, // its own process group, so the whole chain stops together
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    try {
      const deadline = Date.now() + 30_000;
      while (!/Authorization: Bearer/.test(stderr) && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(stderr).toContain("file-service is up on embedded defaults");
      expect(stderr).not.toMatch(/\.env not found|Continuing without it/);
    } finally {
      process.kill(-child.pid!, "SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 45_000);
});

describe("npm start (src/main.ts)", () => {
  it("refuses to start in production on embedded backends, naming what to set", async () => {
    const run = startMain({ NODE_ENV: "production", GRPC_PORT: "nope" });
    const { code } = await run.exited;
    expect(code).toBe(1);
    const stderr = run.stderr();
    expect(stderr).toContain("file-service: invalid configuration");
    expect(stderr).toContain("GRPC_PORT: must be a whole number from 0 to 65535");
    expect(stderr).toContain("NODE_ENV: production refuses embedded backends; set DATABASE_URL");
    expect(stderr).not.toMatch(/\bat .*:\d+:\d+/); // no stack trace
  });

  describe("with settings", () => {
    let backends: Backends;
    beforeAll(async () => {
      backends = await startBackends();
    });
    afterAll(async () => {
      await backends?.stop();
    });

    it("serves both listeners and exits 0 on SIGTERM", async () => {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const run = startMain({
        HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        HTTP_PORT: String(httpPort),
        ...serviceEnv(backends),
        SHUTDOWN_DRAIN_DELAY_MS: "0",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
      });
      try {
        await run.waitFor(/file-service listening/);
        // Readiness follows the first dependency probe, which runs right after listen.
        let status = "";
        for (let i = 0; i < 50 && status !== "SERVING"; i++) {
          const res = await fetch(`http://127.0.0.1:${httpPort}/grpc.health.v1.Health/Check`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: "{}",
          });
          status = ((await res.json()) as { status: string }).status;
          if (status !== "SERVING") await new Promise((r) => setTimeout(r, 100));
        }
        expect(status).toBe("SERVING");
        // Logs are JSON lines and never carry the secret.
        const lines = run.stdout().trim().split("\n");
        expect(lines.every((l) => JSON.parse(l).service === "file-service")).toBe(true);
        expect(run.stdout()).not.toContain(JWT_SECRET);
      } finally {
        run.child.kill("SIGTERM");
      }
      const { code, signal } = await run.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(run.stdout()).toContain("shutting down");
    });
  });
});
