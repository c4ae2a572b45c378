// Composition: settings + backends → the FileService and Health handlers →
// both listeners. No I/O beyond reading certificate files; listen() binds.
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import type { Config } from "./config.js";
import type { FileRepository } from "./db/file-repository.js";
import type { ObjectStore } from "./storage/object-store.js";
import type { Logger } from "./observability/logger.js";
import { createFileService } from "./files/file-service.js";
import { createHealthService } from "./health/health-service.js";
import { createJwtVerifier } from "./auth/jwt-verifier.js";
import { createServiceGate, createUserGate } from "./auth/request-gate.js";
import { routesFor } from "./transport/routes.js";
import { createInternalListener, createPublicListener, type Listener } from "./transport/listeners.js";

export interface Backends {
  files: FileRepository;
  objects: ObjectStore;
}

export interface App {
  internal: Listener;
  public: Listener;
  /** Binds both listeners; returns the bound ports (useful with port 0). */
  listen(): Promise<{ grpcPort: number; httpPort: number }>;
  /** Stops accepting, lets in-flight RPCs finish (bounded), then releases the backends. */
  close(): Promise<void>;
}

export async function createApp(config: Config, backends: Backends, log: Logger): Promise<App> {
  const routes = routesFor({
    files: createFileService({ files: backends.files, objects: backends.objects, settings: config.limits }),
    health: createHealthService([
      { name: "database", ping: () => backends.files.ping() },
      { name: "object store", ping: () => backends.objects.ping() },
    ]),
  });
  const [ca, cert, key] = await Promise.all(
    [config.tls.caFile, config.tls.certFile, config.tls.keyFile].map((f) => readFile(f)),
  );
  const publicTls = config.publicTls
    ? { cert: await readFile(config.publicTls.certFile), key: await readFile(config.publicTls.keyFile) }
    : undefined;

  const internal = await createInternalListener({
    routes,
    gate: createServiceGate(config.allowedClients),
    tls: { ca: ca!, cert: cert!, key: key! },
    log,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  const external = await createPublicListener({
    routes,
    gate: createUserGate(createJwtVerifier(config.jwt)),
    corsOrigins: config.corsOrigins,
    tls: publicTls,
    log,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });

  return {
    internal,
    public: external,
    async listen() {
      await internal.listen({ host: config.host, port: config.grpcPort });
      await external.listen({ host: config.host, port: config.httpPort });
      return {
        grpcPort: (internal.server.address() as AddressInfo).port,
        httpPort: (external.server.address() as AddressInfo).port,
      };
    },
    async close() {
      await Promise.all([internal.close(), external.close()]);
      await backends.files.close();
      backends.objects.close();
    },
  };
}
