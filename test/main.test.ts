// The real entry point, as `npm start` runs it: a child process that reads its
// settings from the environment, serves, and stops cleanly on SIGTERM.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_SECRET, serviceEnv, startBackends, type Backends } from "./support/service.js";

const root = join(import.meta.dirname, "..");

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("npm start (src/main.ts)", () => {
  it("refuses to start without settings, naming what is missing", async () => {
    const run = startMain({});
    const [code] = await run.exited;
    expect(code).toBe(1);
    const { stderr } = run.output();
    expect(stderr).toContain("file-service: invalid configuration");
    expect(stderr).toContain("DATABASE_URL: is required");
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
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
      });
      try {
        for (let i = 0; i < 100 && !run.output().stdout.includes("file-service listening"); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(run.output().stdout).toContain("file-service listening");
        const res = await fetch(`http://127.0.0.1:${httpPort}/grpc.health.v1.Health/Check`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: "{}",
        });
        expect(await res.json()).toEqual({ status: "SERVING" });
        // Logs are JSON lines and never carry the secret.
        const lines = run.output().stdout.trim().split("\n");
        expect(lines.every((l) => JSON.parse(l).service === "file-service")).toBe(true);
        expect(run.output().stdout).not.toContain(JWT_SECRET);
      } finally {
        run.child.kill("SIGTERM");
      }
      const [code, signal] = await run.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(run.output().stdout).toContain("shutting down");
    });
  });
});
