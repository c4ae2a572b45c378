// What the chaos harness runs: a fresh MariaDB database and an S3 server, each
// behind a fault proxy, and two instances of the service started from the real
// entry point as child processes on fixed ports, so an instance can be SIGKILLed
// or SIGTERMed and started again where its clients expect it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { createPki, serviceEnv, type Pki } from "../../test/support/service.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/database.js";
import { startS3Server, type S3Server } from "../../test/support/s3-server.js";
import { freePort, startServiceProcess, type ServiceProcess } from "../../test/support/service-process.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";

export interface Instance {
  name: string;
  grpcUrl: string;
  process: ServiceProcess | undefined;
  /** SIGKILL or SIGTERM, waiting for the exit. */
  stop(signal: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Starts it again on the same ports; resolves when it says it is up. */
  start(): Promise<void>;
}

export interface ChaosStack {
  db: TestDatabase;
  s3: S3Server;
  pki: Pki;
  dbProxy: FaultProxy;
  s3Proxy: FaultProxy;
  /** The folder every instance's temp upload files go to (UPLOAD_TMP_DIR; the audit counts what is left there). */
  tmpDir: string;
  instances: Instance[];
  /** A client of `instance` with the dev client certificate, over gRPC. */
  client(instance: Instance): Client<typeof FileService>;
  /** Everything the instances wrote to stderr, for a failed run. */
  logs(): string;
  stop(): Promise<void>;
}

export async function startChaosStack(settings: Record<string, string>, instanceCount = 2): Promise<ChaosStack> {
  const [db, s3, pki] = await Promise.all([createTestDatabase(), startS3Server(), createPki()]);
  const tmpDir = await mkdtemp(join(tmpdir(), "chaos-uploads-"));
  const dbProxy = await startFaultProxy(Number(new URL(db.url).port || 3306), new URL(db.url).hostname);
  const s3Proxy = await startFaultProxy(Number(new URL(s3.endpoint).port));
  const proxiedDb = new URL(db.url);
  proxiedDb.host = `127.0.0.1:${dbProxy.port}`;
  const env = {
    ...serviceEnv({ db: { ...db, url: proxiedDb.href }, s3: { ...s3, endpoint: `http://127.0.0.1:${s3Proxy.port}` }, pki }),
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    SHUTDOWN_DRAIN_DELAY_MS: "0",
    // Only the service's own uploads: TMPDIR would also hold tsx's compile cache.
    UPLOAD_TMP_DIR: tmpDir,
    ...settings,
  };
  let logs = "";
  const sessions: Http2SessionManager[] = [];
  const instances: Instance[] = [];
  for (let i = 0; i < instanceCount; i++) {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const name = `instance-${i + 1}`;
    const instance: Instance = {
      name,
      grpcUrl: `https://localhost:${grpcPort}`,
      process: undefined,
      async start() {
        const child = startServiceProcess({ env: { ...env, GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort) } });
        instance.process = child;
        child.child.stderr!.on("data", (d) => (logs += `[${name}] ${d}`));
        await child.waitFor(/file-service is up/, 60_000);
      },
      async stop(signal) {
        const child = instance.process;
        if (child === undefined || child.child.exitCode !== null) return;
        child.child.kill(signal);
        const timer = setTimeout(() => child.child.kill("SIGKILL"), 30_000);
        await child.exited;
        clearTimeout(timer);
      },
    };
    instances.push(instance);
  }
  await Promise.all(instances.map((i) => i.start()));
  return {
    db,
    s3,
    pki,
    dbProxy,
    s3Proxy,
    tmpDir,
    instances,
    client(instance) {
      const sessionManager = new Http2SessionManager(instance.grpcUrl, undefined, { ca: pki.ca, cert: pki.hangout.cert, key: pki.hangout.key });
      sessions.push(sessionManager);
      return createClient(FileService, createGrpcTransport({ baseUrl: instance.grpcUrl, sessionManager }));
    },
    logs: () => logs,
    async stop() {
      for (const s of sessions) s.abort();
      await Promise.all(instances.map((i) => i.stop("SIGTERM")));
      await Promise.all([dbProxy.close(), s3Proxy.close()]);
      await Promise.all([db.drop(), s3.stop(), rm(pki.dir, { recursive: true, force: true }), rm(tmpDir, { recursive: true, force: true })]);
    },
  };
}
