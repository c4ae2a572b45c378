// A gRPC load generator in its own process: @grpc/grpc-js over several
// channels (separate HTTP/2 connections) with a client certificate, a fixed
// number of calls in flight, for a fixed time. Prints one JSON line of results.
//
// Input: the JSON of LoadSpec in the LOAD_SPEC environment variable.
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { closedLoop } from "./closed-loop.js";

export interface LoadCall {
  /** "file.v1.FileService" or "grpc.health.v1.Health". */
  service: string;
  /** e.g. "GetFile". */
  method: string;
  /** Requests to send, taken in turn. */
  requests: object[];
  /** Relative share of this call in a mixed workload (default 1). */
  weight?: number;
}

export interface LoadSpec {
  /** host:port */
  target: string;
  ca: string;
  cert: string;
  key: string;
  channels: number;
  inFlight: number;
  durationMs: number;
  warmupMs: number;
  calls: LoadCall[];
}

const spec = JSON.parse(process.env.LOAD_SPEC ?? "{}") as LoadSpec;
const root = join(import.meta.dirname, "../..");
const definition = protoLoader.loadSync(["file/v1/file_service.proto", "grpc/health/v1/health.proto"], {
  includeDirs: [join(root, "proto")],
  longs: String,
  enums: String,
  defaults: false,
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pkg = grpc.loadPackageDefinition(definition) as any;
const credentials = grpc.credentials.createSsl(Buffer.from(spec.ca), Buffer.from(spec.key), Buffer.from(spec.cert));
const clients = new Map<string, grpc.Client[]>();
for (const call of spec.calls) {
  if (clients.has(call.service)) continue;
  const Ctor = call.service.split(".").reduce((o, k) => o[k], pkg) as typeof grpc.Client;
  clients.set(
    call.service,
    Array.from({ length: spec.channels }, (_, i) =>
      // A distinct channel option per client keeps grpc-js from sharing one connection.
      new Ctor(spec.target, credentials, { "grpc.use_local_subchannel_pool": 1, "bench.channel": i, "grpc.ssl_target_name_override": "localhost" }),
    ),
  );
}

// Weighted round robin over the calls.
const schedule = spec.calls.flatMap((c) => Array.from({ length: c.weight ?? 1 }, () => c));
let seq = 0;

function one(): Promise<void> {
  const n = seq++;
  const call = schedule[n % schedule.length]!;
  const channel = clients.get(call.service)![n % spec.channels]!;
  const request = call.requests[n % call.requests.length];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const method = (channel as any)[call.method].bind(channel);
  return new Promise((resolve, reject) => method(request, (err: grpc.ServiceError | null) => (err ? reject(err) : resolve())));
}

const result = await closedLoop(one, spec);
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const list of clients.values()) for (const c of list) c.close();
