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

// The generator shares the machine with the server under test, so it does as
// little as a client can: each request is encoded once, up front, and responses
// are not decoded (protobufjs turning ten presigned URLs into objects cost more
// CPU per call than the raw mysql2 ceiling's whole client). Each response still
// has to end with status OK (grpc-js checks it; a failed call fails the run),
// and the first response of each call is decoded once, as a check.
interface PreparedCall {
  path: string;
  requests: Buffer[];
  decode(response: Buffer): unknown;
  checked: boolean;
}
const prepared = new Map<LoadCall, PreparedCall>();
for (const call of spec.calls) {
  const service = definition[call.service] as grpc.ServiceDefinition | undefined;
  const method = service?.[call.method] as grpc.MethodDefinition<object, object> | undefined;
  if (method === undefined) throw new Error(`no method ${call.service}/${call.method} in the protos`);
  prepared.set(call, {
    path: method.path,
    requests: call.requests.map((r) => method.requestSerialize(r)),
    decode: (response) => method.responseDeserialize(response),
    checked: false,
  });
}

const credentials = grpc.credentials.createSsl(Buffer.from(spec.ca), Buffer.from(spec.key), Buffer.from(spec.cert));
const channels = Array.from(
  { length: spec.channels },
  (_, i) =>
    // A distinct channel option per client keeps grpc-js from sharing one connection.
    new grpc.Client(spec.target, credentials, { "grpc.use_local_subchannel_pool": 1, "bench.channel": i, "grpc.ssl_target_name_override": "localhost" }),
);

// Weighted round robin over the calls.
const schedule = spec.calls.flatMap((c) => Array.from({ length: c.weight ?? 1 }, () => prepared.get(c)!));
const asIs = (bytes: Buffer) => bytes;
let seq = 0;

function one(): Promise<void> {
  const n = seq++;
  const call = schedule[n % schedule.length]!;
  const channel = channels[n % channels.length]!;
  const request = call.requests[n % call.requests.length]!;
  return new Promise((resolve, reject) =>
    channel.makeUnaryRequest(call.path, asIs, asIs, request, (err, response) => {
      if (err) return reject(err);
      if (!call.checked) {
        call.decode(response!);
        call.checked = true;
      }
      resolve();
    }),
  );
}

const result = await closedLoop(one, spec);
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const c of channels) c.close();
