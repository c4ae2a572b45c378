// What each of the service's own layers costs a GetFile, in process: each layer
// run alone around a stand-in for what it wraps (an answered promise, a fixed
// record), many times in a row, minus the same loop without the layer. The
// transport (connect, Fastify, node:http2) and the database are not in these
// figures; the naive GetFile (bench/peers/connect-get-file.ts) has them too.
//
//   npx tsx bench/lib/get-file-layers.ts      prints the figures as JSON
import { createContextValues, type HandlerContext, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { createLinkedAbortController } from "@connectrpc/connect/protocol";
import { create, toBinary } from "@bufbuild/protobuf";
import { FileService, GetFileRequestSchema, GetFileResponseSchema } from "../../gen/file/v1/file_service_pb.js";
import type { FileRecord } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createServiceGate } from "../../src/auth/request-gate.js";
import { kPeerCertificate } from "../../src/auth/peer-certificate.js";
import { kPrincipal } from "../../src/auth/principal.js";
import { rpcTelemetry } from "../../src/observability/rpc-telemetry.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";
import { childLoggerFactory } from "../../src/transport/listeners.js";
import { createLogger } from "../../src/observability/logger.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing } from "../../src/observability/tracing.js";
import { instrumentRepository } from "../../src/observability/instrument.js";
import { wakeOnChange } from "../../src/tasks/wake-on-change.js";
import { runClassified } from "../../src/db/driver-errors.js";
import { recordsFromJoinedRows, type JoinedRow } from "../../src/db/mysql/mysql-file-repository.js";
import { ownedFile } from "../../src/files/use-case-deps.js";
import { toFileMessage } from "../../src/files/file-message.js";

const ID = "0192b7a4-5e1f-7c3a-9d2e-123456789abc";
const OWNER = "bench-owner";
const at = new Date("2026-12-05T10:00:00Z");
// The bench's seeded file: uploaded, processed, three variants (one joined row each).
const ROWS: JoinedRow[] = (["large", "medium", "thumb"] as const).map((name, i) => [
  ID, OWNER, "photo-789abc.jpg", "image/jpeg", 123_456, "1B2M2Y8AsgTpgAmY7PhCfg==", "uploaded", `files/${ID}/original`,
  at, at, null, "post_attachment", "ab".repeat(32), 1920, 1080,
  "LEHV6nWB2yk8pyo0adR*.7kCMdnj", "completed", null,
  "not_scanned", null, null, null, null,
  name, 1080 >> i, 608 >> i, "image/webp", 12_345, `files/${ID}/${name}`,
]);
const RECORD: FileRecord = recordsFromJoinedRows(ROWS)[0]!;

/** µs per call of `body`, run `calls` times in a row (after a warm-up). */
async function usPerCall(body: () => unknown, calls: number): Promise<number> {
  for (let i = 0; i < Math.min(calls, 5_000); i++) await body();
  const start = performance.now();
  for (let i = 0; i < calls; i++) await body();
  return ((performance.now() - start) * 1000) / calls;
}

/** Cost of `layer` over `bare` (the same loop without it): the median of a few alternated tries. */
async function layerCost(bare: () => unknown, layer: () => unknown, calls: number): Promise<number> {
  const diffs: number[] = [];
  for (let i = 0; i < 5; i++) diffs.push((await usPerCall(layer, calls)) - (await usPerCall(bare, calls)));
  diffs.sort((a, b) => a - b);
  return Math.max(0, Math.round(diffs[2]! * 100) / 100);
}

export async function measureGetFileLayers(calls = 50_000): Promise<Record<string, number>> {
  const log = createLogger("warn");
  const tracing = createTracing({ serviceName: "bench" });
  const metrics = createMetrics();
  // As src/app.ts composes them: no exporter configured, so dependency calls get no spans.
  const telemetry = { tracer: tracing.tracer, metrics, traced: tracing.exporting };

  // What connect hands an interceptor for a gRPC GetFile from the internal listener.
  const contextValues = createContextValues().set(kPrincipal, { kind: "service", name: "hangout" });
  const request = {
    stream: false,
    service: FileService,
    method: FileService.method.getFile,
    requestMethod: "POST",
    url: "https://127.0.0.1/file.v1.FileService/GetFile",
    signal: new AbortController().signal,
    header: new Headers({ "content-type": "application/grpc", te: "trailers", "user-agent": "grpc-node-js/1.14" }),
    contextValues,
    message: create(GetFileRequestSchema, { fileId: ID, ownerId: OWNER }),
  } as unknown as UnaryRequest;
  const response = {
    stream: false,
    service: FileService,
    method: FileService.method.getFile,
    header: new Headers(),
    trailer: new Headers(),
    message: create(GetFileResponseSchema, { file: toFileMessage(RECORD) }),
  } as unknown as UnaryResponse;
  const answered = Promise.resolve(response);
  const next = () => answered;
  const withTelemetry = rpcTelemetry({ ...telemetry, transport: "internal", activateContext: tracing.exporting })(next as never);
  const withBoundary = rpcBoundary(log)(next as never);
  // As the listeners compose it: the call's own time (CALL_TIMEOUT_MS), a scope and a timer per call.
  const withClock = rpcBoundary(log, { callTimeoutMs: 30_000 })(next as never);

  // The gate sees the connection's verified certificate.
  const gate = createServiceGate(["hangout"]);
  const gateContext = {
    service: FileService,
    method: FileService.method.getFile,
    requestHeader: request.header,
    values: createContextValues().set(kPeerCertificate, { authorized: true, identities: ["hangout"] }),
  } as unknown as HandlerContext;

  // The repository as the service composes it (src/app.ts, no cache): telemetry, then wake-on-change.
  const found = Promise.resolve([RECORD]);
  const repository = { findByIds: () => found } as unknown as FileRepository;
  const composed = wakeOnChange(instrumentRepository(repository, telemetry), () => {});
  const query = () => found;
  const classify = (e: unknown) => e;

  // Fastify makes a child logger per request (bindings: the request id).
  const listenerLog = log.child({ listener: "internal" });
  let reqId = 0;
  const fastifyChild = () => listenerLog.child({ reqId: `req-${++reqId}` }, {});
  const ours = () => childLoggerFactory(listenerLog);

  const message = toFileMessage(RECORD);
  const encoded = create(GetFileResponseSchema, { file: message });
  const nothing = () => undefined;
  // connect links each call's signal to the listener's shutdown signal (shutdownTimeoutMs).
  const shutdown = new AbortController().signal;
  const linked = (...signals: Array<AbortSignal | undefined>) => () => createLinkedAbortController(...signals, new AbortController().signal).abort();
  const costs: Record<string, number> = {
    "request gate (mTLS identity → principal)": await layerCost(nothing, () => gate(gateContext), calls),
    "telemetry interceptor (span, counter, histogram)": await layerCost(() => next(), () => withTelemetry(request), calls),
    "error boundary interceptor (log line below the level)": await layerCost(() => next(), () => withBoundary(request), calls),
    "the call's clock and scope (CALL_TIMEOUT_MS)": await layerCost(() => withBoundary(request), () => withClock(request), calls),
    "repository proxies (histogram; wake-on-change)": await layerCost(() => repository.findByIds(OWNER, [ID]), () => composed.findByIds(OWNER, [ID]), calls),
    "query deadline (runClassified timer)": await layerCost(query, () => runClassified(query, classify, 5_000), calls),
    "owner check and id map (ownedFile)": await layerCost(() => repository.findByIds(OWNER, [ID]), () => ownedFile(repository, OWNER, ID), calls),
    "shutdown signal (one more abort listener per call)": await layerCost(linked(undefined), linked(shutdown), calls),
    "per-request child logger (Fastify's default)": await layerCost(nothing, fastifyChild, calls),
    "per-request logger (ours)": await layerCost(nothing, ours, calls),
    // The same in the naive GetFile: shown for scale.
    "join rows → record (3 variants)": await layerCost(nothing, () => recordsFromJoinedRows(ROWS), calls),
    "record → File message (create, 5 Timestamps)": await layerCost(nothing, () => toFileMessage(RECORD), calls),
    "File message → binary": await layerCost(nothing, () => toBinary(GetFileResponseSchema, encoded), calls),
  };
  await tracing.shutdown();
  return costs;
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(await measureGetFileLayers(), null, 2)}\n`);
