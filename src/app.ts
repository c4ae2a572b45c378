// Composition: settings + backends → handlers, health, telemetry → the two
// listeners. listen() binds; close() drains and releases everything.
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { FileService, file_file_v1_file_service } from "../gen/file/v1/file_service_pb.js";
import { Health, file_grpc_health_v1_health } from "../gen/grpc/health/v1/health_pb.js";
import type { Config } from "./config.js";
import type { Backends } from "./backends.js";
import type { Logger } from "./observability/logger.js";
import { createMetrics } from "./observability/metrics.js";
import { createTracing } from "./observability/tracing.js";
import { rpcTelemetry } from "./observability/rpc-telemetry.js";
import { instrumentObjectStore, instrumentRepository } from "./observability/instrument.js";
import { createFileService } from "./files/file-service.js";
import { createHealthMonitor, type HealthMonitor } from "./health/health-monitor.js";
import { createHealthService } from "./health/health-service.js";
import { registerReflection } from "./reflection/reflection-service.js";
import { createJwtVerifier } from "./auth/jwt-verifier.js";
import { createServiceGate, createUserGate } from "./auth/request-gate.js";
import { createInternalListener, createPublicListener, type Listener } from "./transport/listeners.js";
import { opsRoutes } from "./transport/ops-routes.js";
import { resolveJwt, resolveTls } from "./dev/bootstrap.js";
import { webRoutes } from "./transport/web-routes.js";
import { largestSizeLimit } from "./files/purposes.js";
import { createProcessingWorker, newWorkerId } from "./processing/worker.js";
import { createRedisFileCache, type FileCache } from "./cache/file-cache.js";
import { cachedFileReads, invalidatingRepository } from "./cache/cached-reads.js";
import type { FileRepository } from "./domain/file-repository.js";
import { routeEvents } from "./events/event-routing.js";
import { createTaskWorker } from "./tasks/task-worker.js";
import { wakeOnChange } from "./tasks/wake-on-change.js";
import { purgeObjects } from "./tasks/purge-objects.js";
import { quarantineObjects } from "./tasks/quarantine-objects.js";
import { clearDeadUploads } from "./files/upload-tmp-dir.js";
import { deliverEvents, publishEvents } from "./tasks/publish-events.js";

export interface App {
  internal: Listener;
  public: Listener;
  monitor: HealthMonitor;
  /** Files a developer needs in embedded mode (dev PKI client, dev token). */
  dev: { client?: { caFile: string; certFile: string; keyFile: string }; tokenFile?: string };
  /** Binds both listeners; returns the bound ports (useful with port 0). */
  listen(): Promise<{ grpcPort: number; httpPort: number }>;
  /** Reports not-ready, waits for load balancers to notice, lets in-flight RPCs finish (bounded), releases backends. */
  close(): Promise<void>;
}

export async function createApp(config: Config, backends: Backends, log: Logger): Promise<App> {
  const [tls, jwt] = await Promise.all([resolveTls(config.tls), resolveJwt(config.jwt)]);
  const publicTls = config.publicTls
    ? { cert: await readFile(config.publicTls.certFile), key: await readFile(config.publicTls.keyFile) }
    : undefined;

  const metrics = createMetrics();
  const tracing = createTracing({ serviceName: "file-service", otlpEndpoint: config.otlpEndpoint });
  const telemetry = { tracer: tracing.tracer, metrics, traced: tracing.exporting };
  const objects = instrumentObjectStore(backends.objects, telemetry);
  metrics.trackFileCounts(() => backends.files.countByStatus());
  // With Redis, GetFile/BatchGetFiles read through it and every write invalidates;
  // the rest of the service never reads the cache, so correctness never depends on it.
  const cache: FileCache | undefined = config.redisUrl
    ? createRedisFileCache(config.redisUrl, {
        onError: (err, operation) => log.warn({ err, operation }, "file cache unavailable; reading the database"),
      })
    : undefined;
  const instrumented: FileRepository = cache
    ? invalidatingRepository(instrumentRepository(backends.files, telemetry), cache)
    : instrumentRepository(backends.files, telemetry);
  // The outbox worker (below) runs at once what a change here queued.
  let wakeTasks = () => {};
  const files = wakeOnChange(instrumented, () => wakeTasks());
  const reads = cache ? cachedFileReads(files, cache) : undefined;

  const workerId = newWorkerId();
  // What a killed process left in the upload folder goes now: no row knows those bytes.
  const leftovers = await clearDeadUploads(config.limits.uploadTmpDir);
  if (leftovers.length > 0) log.info({ count: leftovers.length, dir: config.limits.uploadTmpDir }, "removed uploads a stopped process left");
  // With CLAMD_URL, nothing is served or processed before clamd has scanned it.
  const scanner = config.scanning
    ? (await import("./scanning/clamd-scanner.js")).createClamdScanner({ url: config.scanning.clamdUrl, streamMaxBytes: config.scanning.streamMaxBytes })
    : undefined;
  const jobDeps = {
    files,
    objects,
    images: config.images,
    retry: { maxAttempts: config.processing.maxAttempts, retryBaseMs: config.processing.retryBaseMs },
    log: log.child({ component: "processing" }),
    scanner,
    onScanned: (verdict: "clean" | "infected" | "error") => metrics.scans.inc({ verdict }),
  };
  const worker = createProcessingWorker({
    ...jobDeps,
    workerId,
    concurrency: config.processing.concurrency,
    leaseMs: config.processing.leaseMs,
    pollMs: config.processing.pollMs,
  });

  const monitor = createHealthMonitor(
    [
      { name: "database", ping: () => backends.files.ping() },
      { name: "object_store", ping: () => backends.objects.ping() },
      // Reported, but not a readiness condition: files wait for it, calls do not.
      ...(scanner ? [{ name: "malware_scanner", ping: () => scanner.ping(), critical: false }] : []),
    ],
    config.healthIntervalMs,
  );
  metrics.trackDependencies(() => monitor.snapshot());
  const events = routeEvents(config.events, log);
  const outbox = metrics.outbox;
  outbox.trackTasks(() => backends.files.taskStats(new Date()));
  const tasks = createTaskWorker({
    files,
    handlers: {
      purge: purgeObjects({ files, objects, onPurged: (n) => outbox.purgedObjects.inc(n) }),
      quarantine: quarantineObjects({
        files,
        objects,
        bucket: config.scanning?.quarantineBucket,
        onQuarantined: () => metrics.quarantinedFiles.inc(),
      }),
      publish: publishEvents({ files, sinks: events.sinks }),
      deliver: deliverEvents({
        sinks: events.sinks,
        onDelivered: (sink) => outbox.eventsPublished.inc({ sink }),
        onGivenUp: (sink) => outbox.eventsFailed.inc({ sink }),
      }),
    },
    workerId,
    concurrency: config.tasks.concurrency,
    leaseMs: config.tasks.leaseMs,
    pollMs: config.tasks.pollMs,
    retryBaseMs: config.tasks.retryBaseMs,
    retryCapMs: config.tasks.retryCapMs,
    expiryBatch: 100,
    log: log.child({ component: "tasks" }),
    metrics: outbox,
  });
  wakeTasks = () => tasks.notify();
  const fileService = createFileService({
    ...jobDeps,
    reads,
    settings: {
      ...config.limits,
      serveUnscanned: config.scanning?.allowUnscanned ?? false,
      // An S3 request is tried at most twice, each bounded by S3_REQUEST_TIMEOUT_MS.
      storeSettleMs: config.objects.kind === "s3" ? 2 * config.objects.requestTimeoutMs : 0,
    },
    processing: { workerId, leaseMs: config.processing.leaseMs, notify: () => worker.notify() },
    onUploaded: (bytes) => metrics.uploadedBytes.inc(bytes),
    watch: { feed: events.feed, heartbeatMs: config.events.heartbeatMs },
  });
  // A unary UploadFile carries a whole file; streams are bounded by their running total.
  const readMaxBytes = largestSizeLimit(config.limits) + 1024 * 1024;
  const healthService = createHealthService(monitor);
  const publicRoutes = (router: ConnectRouter) => {
    router.service(FileService, fileService);
    router.service(Health, healthService);
  };
  // Reflection describes the API to tools like `buf curl`; services only.
  const internalRoutes = (router: ConnectRouter) => {
    publicRoutes(router);
    registerReflection(router, [file_file_v1_file_service, file_grpc_health_v1_health]);
  };
  const telemetryFor = (transport: "internal" | "public"): Interceptor =>
    rpcTelemetry({ ...telemetry, transport, activateContext: tracing.exporting });

  const internal = await createInternalListener({
    routes: internalRoutes,
    interceptors: [telemetryFor("internal")],
    gate: createServiceGate(config.allowedClients),
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
    log,
    callTimeoutMs: config.callTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    readMaxBytes,
    http2MaxConcurrentStreams: config.http2MaxConcurrentStreams,
  });
  const external = await createPublicListener({
    routes: publicRoutes,
    interceptors: [telemetryFor("public")],
    gate: createUserGate(createJwtVerifier(jwt.settings)),
    corsOrigins: config.corsOrigins,
    tls: publicTls,
    plugins: [
      opsRoutes({ monitor, renderMetrics: () => metrics.render(), metricsToken: config.metricsToken }),
      ...(backends.objectRoutes ? [backends.objectRoutes] : []),
      webRoutes({ dir: resolve("web/dist"), devTokenFile: jwt.devTokenFile }),
    ],
    log,
    callTimeoutMs: config.callTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    readMaxBytes,
    http2MaxConcurrentStreams: config.http2MaxConcurrentStreams,
  });

  return {
    internal,
    public: external,
    monitor,
    dev: { client: tls.devClient, tokenFile: jwt.devTokenFile },
    async listen() {
      await internal.listen({ host: config.host, port: config.grpcPort });
      await external.listen({ host: config.host, port: config.httpPort });
      monitor.start();
      worker.start();
      tasks.start();
      return {
        grpcPort: (internal.server.address() as AddressInfo).port,
        httpPort: (external.server.address() as AddressInfo).port,
      };
    },
    async close() {
      monitor.drain();
      // Load balancers poll readiness: give them time to stop sending new calls.
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainDelayMs));
      await Promise.all([internal.close(), external.close(), worker.stop(config.shutdownTimeoutMs), tasks.stop(config.shutdownTimeoutMs)]);
      await cache?.close();
      await events.close();
      await backends.files.close();
      backends.objects.close();
      await tracing.shutdown();
    },
  };
}
