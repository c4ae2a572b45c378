// rpcTelemetry on real connect servers (node:http for Connect JSON, h2c for
// gRPC) in front of the real error boundary, as the listeners compose them.
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { createLogger } from "../../src/observability/logger.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import { codeLabel, rpcTelemetry } from "../../src/observability/rpc-telemetry.js";
import { createTracing, currentTraceId, type Tracing } from "../../src/observability/tracing.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";

const CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`;

let exporter: InMemorySpanExporter;
let tracing: Tracing;
let metrics: Metrics;
/** Trace ids the handlers saw through currentTraceId(). */
const seenTraceIds: (string | undefined)[] = [];
const servers: { close(): void }[] = [];
let publicClient: Client<typeof Health>;
let internalClient: Client<typeof Health>;
let bareClient: Client<typeof Health>;

// A small service whose request picks the outcome.
function healthImpl(): ServiceImpl<typeof Health> {
  const tracer = () => tracing.tracer;
  return {
    async check(req) {
      seenTraceIds.push(currentTraceId());
      await sleep(1);
      tracer().startActiveSpan("check-work", (span) => span.end());
      switch (req.service) {
        case "missing":
          throw new ConnectError("no such service", Code.NotFound);
        case "crash":
          throw new Error("boom");
        case "down":
          throw new DependencyUnavailableError("database", new Error("refused"));
        case "slow":
          await sleep(100);
          return { status: Status.SERVING };
        default:
          return { status: Status.SERVING };
      }
    },
    async *watch(req, ctx) {
      yield { status: Status.SERVING };
      await sleep(1);
      // Runs on the transport's next(), long after the interceptor returned.
      tracer().startActiveSpan("watch-step", (span) => span.end());
      seenTraceIds.push(currentTraceId());
      if (req.service === "fail") throw new ConnectError("gone away", Code.Unavailable);
      if (req.service === "forever") {
        while (!ctx.signal.aborted) {
          yield { status: Status.SERVING };
          await sleep(10);
        }
        return;
      }
      if (req.service === "endless") {
        for (;;) {
          yield { status: Status.SERVING };
          await sleep(10);
        }
      }
      yield { status: Status.NOT_SERVING };
    },
  };
}

async function listen(server: Http1Server | Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

function adapter(interceptors: Interceptor[]) {
  return connectNodeAdapter({ routes: (router) => router.service(Health, healthImpl()), interceptors });
}

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = createTracing({ serviceName: "rpc-telemetry-test", exporter });
  metrics = createMetrics();
  const telemetry = (transport: "internal" | "public") => rpcTelemetry({ tracer: tracing.tracer, metrics, transport });
  const log = createLogger("silent");

  // As the listeners compose them: telemetry outside the error boundary.
  const publicPort = await listen(createHttp1Server(adapter([telemetry("public"), rpcBoundary(log)])));
  const internalPort = await listen(createHttp2Server(adapter([telemetry("internal"), rpcBoundary(log)])));
  // No boundary: the interceptor sees the raw error.
  const barePort = await listen(createHttp1Server(adapter([telemetry("public")])));

  publicClient = createClient(
    Health,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${publicPort}`, httpVersion: "1.1" }),
  );
  internalClient = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${internalPort}` }));
  bareClient = createClient(
    Health,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${barePort}`, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  for (const server of servers) server.close();
  await tracing?.shutdown();
});

beforeEach(() => {
  exporter.reset();
  seenTraceIds.length = 0;
});

async function finishedSpans(): Promise<ReadableSpan[]> {
  await tracing.flush();
  return exporter.getFinishedSpans();
}

function spanNamed(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (span === undefined) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

async function requestCount(labels: { method: string; code: string; transport: string }): Promise<number> {
  const { values } = await metrics.rpcRequests.get();
  const match = values.find(
    (v) => v.labels.method === labels.method && v.labels.code === labels.code && v.labels.transport === labels.transport,
  );
  return match?.value ?? 0;
}

const CHECK = "grpc.health.v1.Health/Check";
const WATCH = "grpc.health.v1.Health/Watch";

describe("trace context", () => {
  it("continues the caller's trace from a traceparent header (Connect over HTTP/1.1)", async () => {
    await publicClient.check({ service: "" }, { headers: { traceparent: TRACEPARENT } });

    const spans = await finishedSpans();
    const rpc = spanNamed(spans, CHECK);
    expect(rpc.kind).toBe(SpanKind.SERVER);
    expect(rpc.spanContext().traceId).toBe(CALLER_TRACE_ID);
    expect(rpc.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(rpc.parentSpanContext?.isRemote).toBe(true);
    expect(rpc.attributes).toMatchObject({
      "rpc.system": "connect_rpc",
      "rpc.service": "grpc.health.v1.Health",
      "rpc.method": "Check",
      "file_service.transport": "public",
    });
    // The handler runs inside the RPC span: its own spans nest, logs see the trace id.
    const work = spanNamed(spans, "check-work");
    expect(work.parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
    expect(seenTraceIds).toEqual([CALLER_TRACE_ID]);
  });

  it("continues the caller's trace from gRPC metadata (HTTP/2)", async () => {
    await internalClient.check({ service: "" }, { headers: { traceparent: TRACEPARENT } });

    const rpc = spanNamed(await finishedSpans(), CHECK);
    expect(rpc.spanContext().traceId).toBe(CALLER_TRACE_ID);
    expect(rpc.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(rpc.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.grpc.status_code": 0 });
  });

  it("starts a new trace without a traceparent, and ignores a malformed one", async () => {
    await publicClient.check({ service: "" });
    await publicClient.check({ service: "" }, { headers: { traceparent: "00-not-a-trace-01" } });

    const rpcs = (await finishedSpans()).filter((s) => s.name === CHECK);
    expect(rpcs).toHaveLength(2);
    for (const rpc of rpcs) {
      expect(rpc.parentSpanContext).toBeUndefined();
      expect(rpc.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(rpc.spanContext().traceId).not.toBe(CALLER_TRACE_ID);
    }
    expect(rpcs[0]!.spanContext().traceId).not.toBe(rpcs[1]!.spanContext().traceId);
  });
});

describe("codes", () => {
  it("records ok and error codes in spans and metrics, per transport", async () => {
    const before = {
      ok: await requestCount({ method: CHECK, code: "ok", transport: "public" }),
      notFound: await requestCount({ method: CHECK, code: "not_found", transport: "public" }),
      internal: await requestCount({ method: CHECK, code: "internal", transport: "internal" }),
      unavailable: await requestCount({ method: CHECK, code: "unavailable", transport: "public" }),
    };

    await publicClient.check({ service: "" });
    await expect(publicClient.check({ service: "missing" })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(internalClient.check({ service: "crash" })).rejects.toMatchObject({ code: Code.Internal });
    await expect(publicClient.check({ service: "down" })).rejects.toMatchObject({ code: Code.Unavailable });

    expect(await requestCount({ method: CHECK, code: "ok", transport: "public" })).toBe(before.ok + 1);
    expect(await requestCount({ method: CHECK, code: "not_found", transport: "public" })).toBe(before.notFound + 1);
    expect(await requestCount({ method: CHECK, code: "internal", transport: "internal" })).toBe(before.internal + 1);
    expect(await requestCount({ method: CHECK, code: "unavailable", transport: "public" })).toBe(
      before.unavailable + 1,
    );

    const rpcs = (await finishedSpans()).filter((s) => s.name === CHECK);
    expect(rpcs.map((s) => s.status.code)).toEqual([
      SpanStatusCode.UNSET, // ok
      SpanStatusCode.UNSET, // not_found is the caller's problem
      SpanStatusCode.ERROR, // internal
      SpanStatusCode.ERROR, // unavailable
    ]);
    expect(rpcs[1]!.attributes["rpc.connect_rpc.error_code"]).toBe("not_found");
    expect(rpcs[2]!.attributes["rpc.grpc.status_code"]).toBe(Code.Internal);
  });

  it("counts an error that is not a ConnectError yet (no boundary inside) with the code the caller gets", async () => {
    const labels = { method: CHECK, code: "internal", transport: "public" };
    const before = await requestCount(labels);
    await expect(bareClient.check({ service: "crash" })).rejects.toMatchObject({ code: Code.Internal });

    expect(await requestCount(labels)).toBe(before + 1);
    const rpc = spanNamed(await finishedSpans(), CHECK);
    expect(rpc.status.code).toBe(SpanStatusCode.ERROR);
    expect(rpc.attributes["error.type"]).toBe("Error");
    // Messages stay in the logs.
    expect(JSON.stringify([rpc.attributes, rpc.events, rpc.status])).not.toContain("boom");
  });

  it("does not record ok when the handler outlives the caller's deadline", async () => {
    // The server's own deadline timer and the client's stream reset race: either code is right.
    const gaveUp = async () =>
      (await requestCount({ method: CHECK, code: "deadline_exceeded", transport: "internal" })) +
      (await requestCount({ method: CHECK, code: "canceled", transport: "internal" }));
    const ok = { method: CHECK, code: "ok", transport: "internal" };
    const [before, okBefore] = [await gaveUp(), await requestCount(ok)];

    await expect(internalClient.check({ service: "slow" }, { timeoutMs: 20 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    // The handler still runs to its end; the RPC is recorded then.
    for (let i = 0; i < 100 && (await gaveUp()) === before; i++) await sleep(10);
    expect(await gaveUp()).toBe(before + 1);
    expect(await requestCount(ok)).toBe(okBefore);
  });

  it("names codes as the Connect protocol does", () => {
    expect(codeLabel(undefined)).toBe("ok");
    expect(codeLabel(Code.InvalidArgument)).toBe("invalid_argument");
    expect(codeLabel(Code.Canceled)).toBe("canceled");
    expect(codeLabel(Code.DeadlineExceeded)).toBe("deadline_exceeded");
    expect(codeLabel(Code.Unauthenticated)).toBe("unauthenticated");
  });
});

describe("streaming", () => {
  async function collect(stream: AsyncIterable<unknown>): Promise<number> {
    let count = 0;
    for await (const _ of stream) count++;
    return count;
  }

  it("ends the span when the response stream ends, with the handler's work nested", async () => {
    const before = await requestCount({ method: WATCH, code: "ok", transport: "internal" });
    expect(await collect(internalClient.watch({ service: "" }, { headers: { traceparent: TRACEPARENT } }))).toBe(2);

    const spans = await finishedSpans();
    const rpc = spanNamed(spans, WATCH);
    expect(rpc.spanContext().traceId).toBe(CALLER_TRACE_ID);
    expect(spanNamed(spans, "watch-step").parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
    expect(seenTraceIds).toEqual([CALLER_TRACE_ID]);
    expect(await requestCount({ method: WATCH, code: "ok", transport: "internal" })).toBe(before + 1);
  });

  it("records the code of a stream that fails midway", async () => {
    await expect(collect(internalClient.watch({ service: "fail" }))).rejects.toMatchObject({
      code: Code.Unavailable,
    });

    const rpc = spanNamed(await finishedSpans(), WATCH);
    expect(rpc.status.code).toBe(SpanStatusCode.ERROR);
    expect(await requestCount({ method: WATCH, code: "unavailable", transport: "internal" })).toBe(1);
  });

  it.each(["forever", "endless"])("ends the span when the client goes away (%s)", async (service) => {
    const before = await requestCount({ method: WATCH, code: "canceled", transport: "internal" });
    const abort = new AbortController();
    for await (const _ of internalClient.watch({ service }, { signal: abort.signal })) {
      abort.abort();
      break;
    }
    // The server notices the reset asynchronously.
    let rpc: ReadableSpan | undefined;
    for (let i = 0; i < 100 && rpc === undefined; i++) {
      rpc = (await finishedSpans()).find((s) => s.name === WATCH);
      if (rpc === undefined) await sleep(20);
    }
    expect(rpc).toBeDefined();
    expect(rpc!.attributes["rpc.grpc.status_code"]).toBe(Code.Canceled);
    expect(await requestCount({ method: WATCH, code: "canceled", transport: "internal" })).toBe(before + 1);
  });
});

describe("metrics", () => {
  it("renders RPC counts and latencies with method, code and transport", async () => {
    await publicClient.check({ service: "" });
    await internalClient.check({ service: "" });

    const { contentType, body } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain/);
    const lines = body.split("\n");
    const line = (prefix: string) => lines.find((l) => l.startsWith(prefix));
    expect(line(`file_service_rpc_requests_total{method="${CHECK}",code="ok",transport="public"}`)).toBeDefined();
    expect(line(`file_service_rpc_requests_total{method="${CHECK}",code="ok",transport="internal"}`)).toBeDefined();
    expect(
      line(`file_service_rpc_duration_seconds_count{method="${CHECK}",code="ok",transport="internal"}`),
    ).toBeDefined();
    expect(
      line(`file_service_rpc_duration_seconds_bucket{le="0.005",method="${CHECK}",code="ok",transport="public"}`),
    ).toBeDefined();
  });
});
