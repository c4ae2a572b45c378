// The system under test for benchmarks: real MariaDB (a fresh database), the
// S3 server in its own process, a PKI, and the service started from its real
// entry point in its own process.
import { readFile } from "node:fs/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { serviceEnv, startBackends, type Backends } from "../../test/support/service.js";
import { freePort, startServiceProcess, type ServiceProcess } from "../../test/support/service-process.js";

export interface Stack {
  backends: Backends;
  service: ServiceProcess;
  grpcUrl: string;
  grpcPort: number;
  httpUrl: string;
  client(): ReturnType<typeof createClient<typeof FileService>>;
  /** Peak resident memory of the service process since the last reset, in MiB (Linux). */
  peakRssMiB(): Promise<number>;
  resetPeakRss(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}, backends?: Backends): Promise<Stack> {
  const own = backends === undefined;
  const b = backends ?? (await startBackends());
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const service = startServiceProcess({
    env: {
      ...serviceEnv(b),
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: "warn",
      SHUTDOWN_DRAIN_DELAY_MS: "0",
      ...env,
    },
  });
  await service.waitFor(/Try it:|file-service is up/);
  const grpcUrl = `https://localhost:${grpcPort}`;
  const sessions: Http2SessionManager[] = [];
  const pid = service.child.pid!;
  return {
    backends: b,
    service,
    grpcUrl,
    grpcPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    client() {
      const { ca, hangout } = b.pki;
      const sessionManager = new Http2SessionManager(grpcUrl, undefined, { ca, cert: hangout.cert, key: hangout.key });
      sessions.push(sessionManager);
      return createClient(FileService, createGrpcTransport({ baseUrl: grpcUrl, sessionManager }));
    },
    async peakRssMiB() {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    },
    async resetPeakRss() {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
    },
    async stop() {
      for (const s of sessions) s.abort();
      service.child.kill("SIGTERM");
      await service.exited;
      if (own) await b.stop();
    },
  };
}
