// OpenTelemetry tracing. Each createTracing() has its own tracer provider (never
// registered globally), so several service instances can live in one process.
//
// Process-global, registered by the first createTracing() and never removed:
//  - the context manager (AsyncLocalStorage), so spans nest across awaits;
//  - the propagator (W3C trace context), which rpcTelemetry uses to read `traceparent`.
// If something else registered either one first, that one stays in use
// (a non-W3C propagator means `traceparent` is not read).
import { createRequire } from "node:module";
import { context, createContextKey, propagation, ROOT_CONTEXT, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT); spans go to <endpoint>/v1/traces in batches. */
  otlpEndpoint?: string;
  /** Takes precedence over otlpEndpoint; each span is handed over as it ends. For tests. */
  exporter?: SpanExporter;
  /** How long shutdown() may spend exporting what is pending; default 3000. */
  shutdownTimeoutMs?: number;
}

export interface Tracing {
  tracer: Tracer;
  /** Whether spans are recorded and exported; when false they only carry ids (for logs). */
  exporting: boolean;
  /** Exports the spans ended so far; rejects when the export fails. */
  flush(): Promise<void>;
  /**
   * Exports what is pending (best effort, bounded by shutdownTimeoutMs), then
   * stops; later spans are dropped. Never rejects: an unreachable collector
   * (the exporter retries for ~8 s, or waits 10 s on a silent one) must not
   * fail or stall the service's shutdown.
   */
  shutdown(): Promise<void>;
}

export function createTracing(options: TracingOptions): Tracing {
  registerGlobals();
  const exporter =
    options.exporter ??
    (options.otlpEndpoint === undefined ? undefined : otlpExporter(tracesUrl(options.otlpEndpoint)));
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] })) // OTEL_RESOURCE_ATTRIBUTES
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));
  const provider = new NodeTracerProvider(
    exporter === undefined
      ? // Nobody would read recorded spans: only mint ids (the caller's trace id when given), which is nearly free.
        { resource, sampler: new AlwaysOffSampler() }
      : {
          resource,
          spanProcessors: [
            options.exporter === undefined ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter),
          ],
        },
  );
  return {
    tracer: provider.getTracer(options.serviceName),
    exporting: exporter !== undefined,
    flush: () => provider.forceFlush(),
    shutdown: () => settleWithin(provider.shutdown(), options.shutdownTimeoutMs ?? 3_000),
  };
}

/** The trace id of the active span (e.g. the RPC being handled), for log lines. */
export function currentTraceId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms).unref();
  });
  await Promise.race([work.then(noop, noop), timeout]);
  clearTimeout(timer);
}

const noop = () => {};

/**
 * The OTLP/HTTP exporter, loaded only when a collector is configured (most
 * processes export nothing). require, not import: createTracing stays synchronous.
 */
function otlpExporter(url: string): SpanExporter {
  const { OTLPTraceExporter } = createRequire(import.meta.url)(
    "@opentelemetry/exporter-trace-otlp-http",
  ) as typeof import("@opentelemetry/exporter-trace-otlp-http");
  return new OTLPTraceExporter({ url });
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; the traces path is appended, as the SDK does for the env var. */
function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

// Idempotent: registers only what is missing. The API keeps the first
// registration (set* returns false later), so probing avoids its complaints.
function registerGlobals(): void {
  const probe = ROOT_CONTEXT.setValue(PROBE_KEY, true);
  if (!context.with(probe, () => context.active() === probe)) {
    const manager = new AsyncLocalStorageContextManager();
    if (context.setGlobalContextManager(manager)) manager.enable();
  }
  if (!propagation.fields().includes("traceparent")) {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  }
}

const PROBE_KEY = createContextKey("file-service tracing probe");
