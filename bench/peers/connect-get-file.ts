// GetFile (and Health/Check) with the same handler logic as the grpc-js peer
// (bench/peers/grpc-get-file.ts) but served by connect-es, in its own process,
// to split the service's cost by layer:
//   mode "h2":      connect-node's connectNodeAdapter on a bare node:http2 secure server;
//   mode "fastify": Fastify 5 + connect-fastify, the service's host, with the
//                   service's TLS and Fastify settings but none of its interceptors,
//                   gate or telemetry;
//   mode "h2-streams": connect's router on node:http2's own stream API, without
//                   the request/response compatibility layer that Fastify and
//                   connect-node both build on (a minimal adapter, below).
// Same mTLS (client certificate required), same lookup (get-file-lookup.ts),
// same mapping (toFileMessage). All accept gzip/br requests and, like the
// service's internal listener, never compress responses.
//
// Input: the JSON of ConnectPeerSpec in PEER_SPEC. Prints "peer listening on <port>".
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify } from "fastify";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { parseFileId } from "../../src/files/file-ids.js";
import { resolveOwner } from "../../src/auth/owner.js";
import { toFileMessage } from "../../src/files/file-message.js";
import { createLookup } from "./get-file-lookup.js";
import type { PeerSpec } from "./grpc-get-file.js";

export interface ConnectPeerSpec extends PeerSpec {
  mode: "h2" | "fastify" | "h2-streams";
}

const spec = JSON.parse(process.env.PEER_SPEC ?? "{}") as ConnectPeerSpec;
const lookup = createLookup(spec.databaseUrl);
const principal = { kind: "service", name: "hangout" } as const;

function routes(router: ConnectRouter) {
  router.service(FileService, {
    async getFile(req) {
      const ownerId = resolveOwner(principal, req.ownerId);
      const id = parseFileId(req.fileId, "file_id");
      const record = await lookup.findOne(ownerId, id);
      if (record === undefined) throw new ConnectError(`file ${id} not found`, Code.NotFound);
      return { file: toFileMessage(record) };
    },
  });
  router.service(Health, {
    check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
    async *watch() {},
  });
}

const tls = {
  ca: readFileSync(spec.caFile),
  cert: readFileSync(spec.certFile),
  key: readFileSync(spec.keyFile),
  allowHTTP1: true,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: "TLSv1.2" as const,
};
const connectOptions = { routes, compressMinBytes: Number.MAX_SAFE_INTEGER };

let server: Http2SecureServer;
if (spec.mode === "fastify") {
  const app = fastify({ http2: true, https: tls, forceCloseConnections: true });
  await app.register(fastifyConnectPlugin, connectOptions);
  await app.listen({ host: "127.0.0.1", port: spec.port });
  server = app.server as Http2SecureServer;
} else {
  if (spec.mode === "h2") {
    server = createSecureServer(tls, connectNodeAdapter(connectOptions));
  } else {
    const router = createConnectRouter(connectOptions);
    routes(router);
    const byPath = new Map(router.handlers.map((h) => [h.requestPath, h]));
    server = createSecureServer(tls);
    server.on("stream", (stream, headers) => void serveStream(byPath, stream, headers).catch(() => stream.destroy()));
  }
  await new Promise<void>((resolve) => server.listen(spec.port, "127.0.0.1", resolve));
}

/** One HTTP/2 stream through a connect handler: headers in, body in, body and trailers out (no compat objects). */
async function serveStream(byPath: Map<string, UniversalHandler>, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
  const path = headers[":path"] ?? "/";
  const handler = byPath.get(path.split("?")[0]!);
  if (handler === undefined) {
    stream.respond({ ":status": 404 }, { endStream: true });
    return;
  }
  const header = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    header.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const abort = new AbortController();
  stream.once("close", () => abort.abort());
  const res = await handler({
    httpVersion: "2.0",
    method: headers[":method"] ?? "POST",
    url: `https://${headers[":authority"] ?? "localhost"}${path}`,
    header,
    body: stream,
    signal: abort.signal,
  });
  const trailer = res.trailer;
  stream.respond({ ":status": res.status, ...Object.fromEntries(res.header ?? []) }, { waitForTrailers: trailer !== undefined });
  if (trailer !== undefined) stream.once("wantTrailers", () => stream.sendTrailers(Object.fromEntries(trailer)));
  for await (const chunk of res.body ?? []) {
    if (!stream.write(chunk)) await once(stream, "drain");
  }
  stream.end();
}

process.stdout.write(`peer listening on ${(server.address() as AddressInfo).port}\n`);

process.on("SIGTERM", () => {
  void lookup.close().then(() => process.exit(0));
});
