// createTracing: OTLP/HTTP export to a real (local) collector endpoint only
// when configured; trace ids for logs either way; several instances per process.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTracing, currentTraceId, type Tracing } from "../../src/observability/tracing.js";

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let collector: Server;
let endpoint: string;
const received: Received[] = [];
const instances: Tracing[] = [];

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => collector.close(resolve));
});

beforeEach(() => {
  received.length = 0;
});

afterEach(async () => {
  await Promise.all(instances.splice(0).map((t) => t.shutdown()));
});

function tracingWith(options: Parameters<typeof createTracing>[0]): Tracing {
  const tracing = createTracing(options);
  instances.push(tracing);
  return tracing;
}

describe("OTLP export", () => {
  it("sends ended spans to <endpoint>/v1/traces on shutdown", async () => {
    const tracing = tracingWith({ serviceName: "otlp-test", otlpEndpoint: endpoint });
    expect(tracing.exporting).toBe(true);
    const span = tracing.tracer.startSpan("exported-span");
    const { traceId } = span.spanContext();
    span.end();

    await tracing.shutdown();

    expect(received.length).toBeGreaterThan(0);
    const request = received[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/v1/traces");
    expect(request.headers["content-type"]).toMatch(/^application\/json/);
    const body = received.map((r) => r.body).join("\n");
    expect(body).toContain("exported-span");
    expect(body).toContain(traceId);
    expect(body).toContain("otlp-test"); // service.name
  });

  it("sends on flush, and accepts an endpoint with a trailing slash", async () => {
    const tracing = tracingWith({ serviceName: "otlp-test", otlpEndpoint: `${endpoint}/` });
    tracing.tracer.startSpan("flushed-span").end();

    await tracing.flush();

    expect(received.map((r) => r.url)).toEqual(["/v1/traces"]);
    expect(received[0]!.body).toContain("flushed-span");
  });

  it("shuts down promptly, without failing, when the collector is unreachable", async () => {
    // Nothing listens on port 1.
    const tracing = tracingWith({ serviceName: "x", otlpEndpoint: "http://127.0.0.1:1", shutdownTimeoutMs: 200 });
    tracing.tracer.startSpan("lost").end();
    const started = performance.now();
    await expect(tracing.shutdown()).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("sends nothing without an endpoint, even when OTEL_EXPORTER_OTLP_* are set", async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${endpoint}/v1/traces`;
    try {
      const tracing = tracingWith({ serviceName: "silent" });
      expect(tracing.exporting).toBe(false);
      const span = tracing.tracer.startSpan("not-exported");
      // Still a real trace id (for logs), but nothing recorded.
      expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
      expect(span.isRecording()).toBe(false);
      span.end();
      await tracing.flush();
      await tracing.shutdown();
      await sleep(100);
      expect(received).toEqual([]);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    }
  });
});

describe("context", () => {
  it("exposes the active trace id across awaits, and none outside spans", async () => {
    const tracing = tracingWith({ serviceName: "ids" });
    expect(currentTraceId()).toBeUndefined();

    await tracing.tracer.startActiveSpan("outer", async (outer) => {
      const expected = outer.spanContext().traceId;
      expect(currentTraceId()).toBe(expected);
      await sleep(5);
      expect(currentTraceId()).toBe(expected);
      await Promise.all([
        (async () => {
          await sleep(1);
          expect(currentTraceId()).toBe(expected);
        })(),
        new Promise<void>((resolve) =>
          setImmediate(() => {
            expect(currentTraceId()).toBe(expected);
            resolve();
          }),
        ),
      ]);
      outer.end();
    });
    expect(currentTraceId()).toBeUndefined();
  });

  it("can be created several times per process; spans of all instances nest", async () => {
    const first = new InMemorySpanExporter();
    const second = new InMemorySpanExporter();
    const a = tracingWith({ serviceName: "a", exporter: first });
    const b = tracingWith({ serviceName: "b", exporter: second });
    tracingWith({ serviceName: "c" });

    await a.tracer.startActiveSpan("from-a", async (parent) => {
      await sleep(1);
      b.tracer.startSpan("from-b").end();
      parent.end();
    });

    const [fromA] = first.getFinishedSpans();
    const [fromB] = second.getFinishedSpans();
    expect(fromB?.parentSpanContext?.spanId).toBe(fromA?.spanContext().spanId);
    expect(fromB?.resource.attributes["service.name"]).toBe("b");
    // The process-wide propagator reads W3C trace context.
    expect(propagation.fields()).toContain("traceparent");
  });

  it("keeps the caller's trace id when not exporting", async () => {
    const tracing = tracingWith({ serviceName: "ids" });
    const carrier = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
    const parent = propagation.extract(context.active(), carrier);
    const span = tracing.tracer.startSpan("rpc", {}, parent);
    expect(span.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    context.with(trace.setSpan(parent, span), () => {
      expect(currentTraceId()).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    });
    span.end();
  });
});
