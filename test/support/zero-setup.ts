// The zero-setup service as a person runs it: `npm start`'s entry point in a
// folder that looks like a clone (the repository's files linked in, its own
// data/), on free ports. Commands run there with `run` see what a person at
// that folder would: npx, the dev credentials under data/, GRPC_PORT/HTTP_PORT.
import { exec } from "node:child_process";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT, startServiceProcess, type ServiceProcess } from "./service-process.js";

export interface ZeroSetupService {
  dir: string;
  service: ServiceProcess;
  grpcPort: number;
  httpPort: number;
  /** The environment a person's shell has there: PATH, HOME and the ports. */
  env: Record<string, string>;
  /** Runs a shell command in `dir`; resolves with its output and exit code, never rejects on a non-zero exit. */
  run(command: string, options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

const LINKED = ["node_modules", "examples", "package.json", "tsconfig.json", "scripts", "src", "gen", "clients"];

export async function startZeroSetup(env: Record<string, string> = {}): Promise<ZeroSetupService> {
  const dir = await mkdtemp(join(tmpdir(), "fs-zero-setup-"));
  for (const entry of LINKED) await symlink(join(REPO_ROOT, entry), join(dir, entry));
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const ports = { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort) };
  const service = startServiceProcess({ cwd: dir, env: { ...ports, LOG_LEVEL: "warn", SHUTDOWN_DRAIN_DELAY_MS: "0", ...env } });
  await service.waitFor(/Try it:[\s\S]*Authorization: Bearer[^\n]*\n/);
  const shellEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...ports };
  return {
    dir,
    service,
    grpcPort,
    httpPort,
    env: shellEnv,
    run: (command, options = {}) =>
      new Promise((resolve) => {
        exec(command, { cwd: dir, shell: "/bin/bash", env: { ...shellEnv, ...options.env }, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
        });
      }),
    async stop() {
      if (service.child.exitCode === null) {
        service.child.kill("SIGTERM");
        await service.exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
