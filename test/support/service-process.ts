// The real entry point as a child process, the way `npm start` runs it.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { serviceEnv, type Backends } from "./service.js";

export const REPO_ROOT = join(import.meta.dirname, "../..");

export interface ServiceProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout or stderr matches, or rejects after `timeoutMs` (with the output so far). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Ends what a test started: each client's sessions, then each process still running (SIGKILL: nothing to wait for). */
export async function killAll(instances: Array<{ service: ServiceProcess; sessions: { abort(): void } }>): Promise<void> {
  for (const { service, sessions } of instances.splice(0)) {
    sessions.abort();
    if (service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill("SIGKILL");
      await service.exited;
    }
  }
}

/**
 * `root`: the checkout whose src/main.ts runs (default this one; benchmarks compare another tree).
 * `nodeArgs`: what node runs instead, e.g. a compiled build (`["dist/src/main.js"]`).
 */
export function startServiceProcess(options: { cwd?: string; root?: string; env: Record<string, string>; nodeArgs?: string[] }): ServiceProcess {
  // tsx by absolute URL, so the service also starts from a directory without node_modules.
  const tsx = import.meta.resolve("tsx");
  const args = options.nodeArgs ?? ["--import", tsx, join(options.root ?? REPO_ROOT, "src/main.ts")];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }) as { code: number | null; signal: NodeJS.Signals | null });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = stdout.match(pattern) ?? stderr.match(pattern);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`did not see ${pattern} (exit ${child.exitCode})\nstdout:\n${stdout}\nstderr:\n${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}


export interface ServiceOnBackends {
  service: ServiceProcess;
  grpcPort: number;
  httpPort: number;
  grpcUrl: string;
  httpUrl: string;
  /** A gRPC transport with the allowed client certificate; abort `sessions` when done. */
  grpcTransport(): { transport: Transport; sessions: Http2SessionManager };
}

/** The real entry point as a child process on test backends (MySQL, s3rver, PKI), on free loopback ports. */
export async function startServiceOn(
  backends: Backends,
  env: Record<string, string> = {},
  options: { root?: string; nodeArgs?: string[] } = {},
): Promise<ServiceOnBackends> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const service = startServiceProcess({
    ...options,
    env: {
      ...serviceEnv(backends),
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      SHUTDOWN_DRAIN_DELAY_MS: "0",
      ...env,
    },
  });
  // The banner goes to stderr whatever LOG_LEVEL is.
  await service.waitFor(/file-service is up/);
  const grpcUrl = `https://localhost:${grpcPort}`;
  return {
    service,
    grpcPort,
    httpPort,
    grpcUrl,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcTransport() {
      const { ca, hangout } = backends.pki;
      const sessions = new Http2SessionManager(grpcUrl, undefined, { ca, cert: hangout.cert, key: hangout.key });
      return { transport: createGrpcTransport({ baseUrl: grpcUrl, sessionManager: sessions }), sessions };
    },
  };
}
