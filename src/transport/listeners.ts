// The two listeners of the one host: the same routes, different ways of
// knowing who calls.
//  - internal: HTTP/2 over TLS with a REQUIRED client certificate from our CA;
//    a socket without one never reaches a handler. For backend services (gRPC).
//  - public: Connect/JSON and gRPC-Web for browsers, with a JWT and CORS;
//    HTTP/1.1, or h2 + HTTP/1.1 when given a certificate.
import { constants as http2Constants, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { fastify, LogController, type FastifyInstance, type FastifyPluginAsync } from "fastify";
import fastifyCors from "@fastify/cors";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import {
  Code,
  ConnectError,
  cors as connectCors,
  createContextValues,
  type ConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import { kPeerCertificate, readPeerCertificate, type PeerCertificate } from "../auth/peer-certificate.js";
import type { RequestGate } from "../auth/request-gate.js";
import type { Logger } from "../observability/logger.js";
import { rpcBoundary } from "./rpc-interceptors.js";


// Fastify's generics differ between HTTP/1 and HTTP/2 servers; the host code
// only registers plugins and listens, so one loose type serves both.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Listener = FastifyInstance<any, any, any, any>;

interface ListenerOptions {
  routes: (router: ConnectRouter) => void;
  /** Run around the error boundary (outermost first), e.g. telemetry. */
  interceptors?: Interceptor[];
  gate: RequestGate;
  log: Logger;
  /** CALL_TIMEOUT_MS (see rpcBoundary). */
  callTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Largest message accepted (a unary upload carries a whole file); larger ones are refused unread. */
  readMaxBytes: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per HTTP/2 connection. */
  http2MaxConcurrentStreams: number;
}

// HTTP/2 flow control on the internal listener: how much a client may send
// before the server has read it. The protocol's default, 64 KiB for the
// connection and each stream, is less than one 64 KiB upload chunk in its
// envelope: every chunk then waits for a WINDOW_UPDATE round trip. Measured on
// UploadFileStream (20 MiB in 64 KiB chunks): 1 MiB per stream and 8 MiB per
// connection took about a third of the server's and a fifth of the client's
// CPU per upload off; larger windows gained nothing more. Unread data per
// connection stays bounded by the connection window.
const STREAM_WINDOW_BYTES = 1024 * 1024;
const CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

export interface InternalListenerOptions extends ListenerOptions {
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
}

export async function createInternalListener(options: InternalListenerOptions): Promise<Listener> {
  const log = options.log.child({ listener: "internal" });
  const app = fastify({
    http2: true,
    https: {
      ...options.tls,
      allowHTTP1: true, // Connect JSON over HTTP/1.1 (curl --cert) works too
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      settings: { initialWindowSize: STREAM_WINDOW_BYTES, maxConcurrentStreams: options.http2MaxConcurrentStreams },
    },
    loggerInstance: log,
    logController: quietRequests(),
    childLoggerFactory,
    // An open HTTP/2 session would otherwise hold close() forever.
    forceCloseConnections: true,
  }) as unknown as Listener;
  resetUnreadRequestStreams(app);
  app.server.on("session", (session: Http2Session) => {
    if (!session.destroyed) session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  });
  // One certificate parse per connection, not per request.
  const peers = new WeakMap<object, PeerCertificate>();
  await app.register(fastifyConnectPlugin, {
    ...connectOptions(options, log),
    // Responses go out uncompressed, as gRPC servers send them by default: on the
    // services' network gzip costs more CPU than the bytes it saves (connect
    // would gzip every answer over 1 KiB, e.g. each GenerateUploadURLs).
    // Compressed requests are still accepted.
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    contextValues: (req) => {
      // On HTTP/2, req.raw.socket is a per-stream proxy; the session's socket is the connection.
      const raw = req.raw as { stream?: { session?: { socket?: unknown } }; socket: unknown };
      const socket = (raw.stream?.session?.socket ?? raw.socket) as TLSSocket;
      let peer = peers.get(socket);
      if (peer === undefined) {
        peer = readPeerCertificate(socket);
        peers.set(socket, peer);
      }
      return createContextValues().set(kPeerCertificate, peer);
    },
  });
  return app;
}

export interface PublicListenerOptions extends ListenerOptions {
  corsOrigins: readonly string[];
  tls?: { cert: Buffer; key: Buffer };
  /** Plain HTTP routes beside the RPCs (health probes, metrics, the local object store). */
  plugins?: FastifyPluginAsync[];
}

export async function createPublicListener(options: PublicListenerOptions): Promise<Listener> {
  const log = options.log.child({ listener: "public" });
  const common = {
    loggerInstance: log,
    logController: quietRequests(),
    childLoggerFactory,
    // Idle keep-alive sockets close at once; requests in flight may finish.
    forceCloseConnections: "idle" as const,
  };
  const app = (
    options.tls
      ? fastify({
          ...common,
          http2: true,
          https: { ...options.tls, allowHTTP1: true, settings: { maxConcurrentStreams: options.http2MaxConcurrentStreams } },
        })
      : fastify(common)
  ) as unknown as Listener;
  resetUnreadRequestStreams(app);
  if (options.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: corsOrigin(options.corsOrigins),
      // PUT/HEAD and Content-MD5 for uploads to the local object store's presigned URLs.
      methods: [...connectCors.allowedMethods, "PUT", "HEAD"],
      allowedHeaders: [...connectCors.allowedHeaders, "Authorization", "Content-MD5"],
      exposedHeaders: [...connectCors.exposedHeaders, "ETag", "Content-Range", "Accept-Ranges", "Content-Disposition"],
      maxAge: 7200,
    });
  }
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  await app.register(fastifyConnectPlugin, connectOptions(options, log));
  return app;
}

/** "*" for any origin; "http://localhost:*" for any port of that host; else exact origins. */
export function corsOrigin(origins: readonly string[]): "*" | Array<string | RegExp> {
  if (origins.includes("*")) return "*";
  return origins.map((origin) => {
    if (!origin.endsWith(":*")) return origin;
    const host = origin.slice(0, -2).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`^${host}(:\\d{1,5})?$`);
  });
}

/** What both listeners give connect: the routes, limits, error boundary and gate. */
function connectOptions(options: ListenerOptions, log: Logger) {
  return {
    routes: options.routes,
    // Strict JSON, as the proto3 JSON spec recommends: an enum name this server
    // does not know ("PROFILE_PICTURE" for FILE_PURPOSE_PROFILE_PICTURE) is an
    // error naming the valid ones, not a silent fall back to the default, and a
    // misspelt field ("fileID") is named instead of ignored.
    jsonOptions: { ignoreUnknownFields: false },
    readMaxBytes: options.readMaxBytes,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    interceptors: [...(options.interceptors ?? []), rpcBoundary(log, { callTimeoutMs: options.callTimeoutMs })],
    requestGate: logRejections(options.gate, log),
  };
}

/**
 * A client stream the server refused early (too large, wrong type) would leave
 * the client blocked on HTTP/2 flow control: Node answers but never resets the
 * stream, and nobody reads the rest of the body. Once the response is complete
 * and the body was not read to its end, end the stream with RST_STREAM(NO_ERROR)
 * (RFC 9113 §8.1: the response is valid, stop sending).
 *
 * "Complete" means after the trailers: Node's compat layer always asks for
 * them ('wantTrailers') and sends them from its own listener, registered before
 * this one, so the reset goes out after the trailers. The response's 'finish'
 * event is no use here: Node emits it only once the stream closes, which an
 * unread request body prevents (Go's HTTP/2 client, as in `buf curl`, then
 * waited forever for a WINDOW_UPDATE after one stream window of data).
 *
 * connect-node 2.3 resets every RPC's stream the same way itself; this hook
 * also covers the routes that are not RPCs (e.g. a refused PUT to /objects on
 * an HTTP/2 public listener).
 */
function resetUnreadRequestStreams(app: Listener): void {
  app.addHook("onRequest", (req, _reply, done) => {
    const stream = (req.raw as { stream?: ServerHttp2Stream }).stream;
    if (stream !== undefined) {
      stream.once("wantTrailers", () => {
        // Most calls read their whole body: nothing to wait for.
        if (req.raw.readableEnded) return;
        setImmediate(() => {
          if (!req.raw.readableEnded && !stream.closed && !stream.destroyed) {
            stream.close(http2Constants.NGHTTP2_NO_ERROR);
          }
        });
      });
    }
    done();
  });
}

/**
 * The logger a request gets as `req.log`: the listener's own. Fastify's default
 * makes a child per request bound to its request id, which nothing reads (its
 * request lines are off, each RPC logs its own line) and which cost about 2 µs
 * a call with the logger's redaction (bench/lib/get-file-layers.ts).
 */
export function childLoggerFactory<L>(logger: L): L {
  return logger;
}

/**
 * Fastify's own request lines would log URLs, and a URL may carry a query
 * string; each RPC gets one line from rpcBoundary instead.
 */
function quietRequests() {
  return new LogController({ disableRequestLogging: true });
}

/** The gate runs before interceptors; refused calls get their own log line (never the token). */
function logRejections(gate: RequestGate, log: Logger): RequestGate {
  return async (context) => {
    try {
      await gate(context);
    } catch (e) {
      const error = ConnectError.from(e);
      log.info(
        { rpc: `${context.service.typeName}/${context.method.name}`, code: Code[error.code], reason: error.rawMessage },
        "rpc refused",
      );
      throw error;
    }
  };
}
