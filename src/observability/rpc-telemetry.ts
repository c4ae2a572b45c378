// One SERVER span and one metrics observation per RPC, continuing the caller's
// trace from `traceparent` (gRPC metadata and HTTP headers both arrive as headers).
//
// Place it outside the error boundary: it then sees the Code the caller gets
// and runs the boundary's log line inside the span (so the line can carry the
// trace id). Calls refused by the request gate never reach interceptors, so
// they are neither traced nor counted here.
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";
import { errorType } from "./instrument.js";
import type { Metrics, Transport } from "./metrics.js";

export interface RpcTelemetryOptions {
  tracer: Tracer;
  metrics: Pick<Metrics, "rpcRequests" | "rpcDuration">;
  transport: Transport;
  /**
   * Whether the RPC's span is made the active context of its handler (Tracing.exporting: child
   * spans then nest under it, and every log line inside the RPC carries its trace id). Without
   * an exporter nothing reads child spans, and making the context active costs about 28 µs a
   * GetFile (an alternated run, bench/NOTES.md): the trace id then reaches the RPC's own log
   * lines through kRpcTraceId only. Default true.
   */
  activateContext?: boolean;
}

/** The trace id of the RPC (its span's), for the error boundary's log lines. */
export const kRpcTraceId = createContextKey<string | undefined>(undefined, { description: "rpc trace id" });

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

// Codes that mean the server failed (OTel's rule for gRPC server spans); the
// others are the caller's mistake and leave the span's status unset.
const SERVER_FAULTS: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/** "ok" for success, else the Code's name in snake_case as the Connect protocol spells it ("invalid_argument"). */
export function codeLabel(code: Code | undefined): string {
  if (code === undefined) return "ok";
  const name = Code[code] ?? String(code);
  return name.replace(/^[A-Z]/, (c) => c.toLowerCase()).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function rpcTelemetry(options: RpcTelemetryOptions): Interceptor {
  const { tracer, metrics, transport } = options;
  const activate = options.activateContext ?? true;
  // What stays the same for every call of a method, made on its first call.
  const methods = new WeakMap<object, MethodTelemetry>();
  const methodOf = (req: AnyRequest): MethodTelemetry => {
    let m = methods.get(req.method);
    if (m === undefined) {
      const name = `${req.service.typeName}/${req.method.name}`;
      const attributes = (system: string) => ({
        "rpc.system": system,
        "rpc.service": req.service.typeName,
        "rpc.method": req.method.name,
        "file_service.transport": transport,
      });
      m = { name, grpc: attributes("grpc"), connect: attributes("connect_rpc") };
      methods.set(req.method, m);
    }
    return m;
  };

  /** Ends the RPC's span and counts it, once. */
  const finish = (call: Call, error?: unknown) => {
    if (call.finished) return;
    call.finished = true;
    const { span, req, grpc } = call;
    // A caller that left or ran out of time got neither "ok" nor the failure
    // that followed (e.g. a write to the closed stream).
    const code = req.signal.aborted
      ? ConnectError.from(req.signal.reason, Code.Canceled).code
      : error === undefined
        ? undefined
        : wireCode(error);
    const label = codeLabel(code);
    if (grpc) span.setAttribute("rpc.grpc.status_code", code ?? 0);
    else if (code !== undefined) span.setAttribute("rpc.connect_rpc.error_code", label);
    if (code !== undefined && SERVER_FAULTS.has(code)) {
      // The type only, as for dependencies; the boundary's log line has the cause.
      if (error !== undefined && !(error instanceof ConnectError)) span.setAttribute("error.type", errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: label });
    }
    span.end();
    const labels = { method: call.method, code: label, transport };
    metrics.rpcRequests.inc(labels);
    metrics.rpcDuration.observe(labels, (performance.now() - call.started) / 1000);
  };

  return (next) => async (req) => {
    const method = methodOf(req);
    const grpc = req.header.get("content-type")?.startsWith("application/grpc") ?? false;
    const parent = propagation.extract(ROOT_CONTEXT, req.header, headerGetter);
    const span = tracer.startSpan(method.name, { kind: SpanKind.SERVER, attributes: grpc ? method.grpc : method.connect }, parent);
    req.contextValues.set(kRpcTraceId, span.spanContext().traceId);
    const active = activate ? trace.setSpan(parent, span) : undefined;
    const call: Call = { span, req, grpc, method: method.name, started: performance.now(), finished: false };

    let res;
    try {
      res = await (active === undefined ? next(req) : context.with(active, next, undefined, req));
    } catch (e) {
      finish(call, e);
      throw e;
    }
    if (!res.stream) {
      finish(call);
      return res;
    }
    return { ...res, message: traceStream(res.message, active, (error?: unknown) => finish(call, error)) };
  };
}

type AnyRequest = Parameters<Parameters<Interceptor>[0]>[0];

interface MethodTelemetry {
  /** "file.v1.FileService/GetFile": the span's name and the metrics' method label. */
  name: string;
  /** The span's attributes for gRPC and for Connect/gRPC-Web calls (the SDK copies them). */
  grpc: Attributes;
  connect: Attributes;
}

/** One RPC in flight. */
interface Call {
  span: Span;
  req: AnyRequest;
  grpc: boolean;
  method: string;
  started: number;
  finished: boolean;
}

/**
 * Passes the response messages through and ends the RPC when they end. A
 * handler's generator body runs on each next(), outside the interceptor's
 * await, so every next() gets the RPC's context back.
 */
async function* traceStream<T>(
  messages: AsyncIterable<T>,
  active: Context | undefined,
  finish: (error?: unknown) => void,
): AsyncGenerator<T, void, undefined> {
  const iterator = messages[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const result = await (active === undefined ? iterator.next() : context.with(active, () => iterator.next()));
      if (result.done === true) break;
      yield result.value;
    }
    ended = true;
    finish();
  } catch (e) {
    ended = true;
    finish(e);
    throw e;
  } finally {
    if (!ended) {
      // The consumer stopped early (e.g. the client went away).
      finish(new ConnectError("response stream abandoned", Code.Canceled));
      await (active === undefined ? iterator.return?.() : context.with(active, () => iterator.return?.()));
    }
  }
}

/** The Code the caller receives: connect's server answers any other error with Internal. */
function wireCode(error: unknown): Code {
  return error instanceof ConnectError ? error.code : Code.Internal;
}

