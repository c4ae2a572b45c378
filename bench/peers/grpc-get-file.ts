// The peer for scenario 3: GetFile served by a bare @grpc/grpc-js server in its
// own process, on the same database, doing the same work as the service's
// handler: validate the id and owner, the same owner-scoped lookup with mysql2
// (one prepared statement joining the variants), the same response mapping
// (toFileMessage) and the same serializer (protobuf-es).
//
// The client certificate is verified by TLS (requireClientCert, our CA); the
// allowed-identity check the service's gate does is per connection there
// (cached), so it is left out here.
//
// Input: the JSON of PeerSpec in PEER_SPEC. Prints "peer listening on <port>".
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  GetFileRequestSchema,
  GetFileResponseSchema,
  type GetFileRequest,
  type GetFileResponse,
} from "../../gen/file/v1/file_service_pb.js";
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import { parseFileId } from "../../src/files/file-ids.js";
import { resolveOwner } from "../../src/auth/owner.js";
import { toFileMessage } from "../../src/files/file-message.js";
import { createLookup } from "./get-file-lookup.js";

export interface PeerSpec {
  databaseUrl: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** 0 for any. */
  port: number;
}

const spec = JSON.parse(process.env.PEER_SPEC ?? "{}") as PeerSpec;
const lookup = createLookup(spec.databaseUrl);

const service: grpc.ServiceDefinition = {
  GetFile: {
    path: "/file.v1.FileService/GetFile",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: GetFileRequest) => Buffer.from(toBinary(GetFileRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(GetFileRequestSchema, b),
    responseSerialize: (m: GetFileResponse) => {
      const bytes = toBinary(GetFileResponseSchema, m);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    responseDeserialize: (b: Buffer) => fromBinary(GetFileResponseSchema, b),
  },
};

// Health/Check too: the no-op ceiling of this transport, for comparison with the service's.
const health: grpc.ServiceDefinition = {
  Check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(HealthCheckRequestSchema, b),
    responseSerialize: (m: HealthCheckResponse) => Buffer.from(toBinary(HealthCheckResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
  },
};

const principal = { kind: "service", name: "hangout" } as const;

const server = new grpc.Server();
server.addService(service, {
  GetFile(call: grpc.ServerUnaryCall<GetFileRequest, GetFileResponse>, callback: grpc.sendUnaryData<GetFileResponse>) {
    void (async () => {
      try {
        const ownerId = resolveOwner(principal, call.request.ownerId);
        const id = parseFileId(call.request.fileId, "file_id");
        const record = await lookup.findOne(ownerId, id);
        if (record === undefined) throw new ConnectError(`file ${id} not found`, Code.NotFound);
        callback(null, { $typeName: "file.v1.GetFileResponse", file: toFileMessage(record) });
      } catch (e) {
        const error = ConnectError.from(e);
        // Connect's Code numbers are gRPC's.
        callback({ code: error.code as number as grpc.status, details: error.rawMessage });
      }
    })();
  },
});

server.addService(health, {
  Check(_call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) {
    callback(null, create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }));
  },
});

const credentials = grpc.ServerCredentials.createSsl(
  readFileSync(spec.caFile),
  [{ cert_chain: readFileSync(spec.certFile), private_key: readFileSync(spec.keyFile) }],
  true,
);
server.bindAsync(`127.0.0.1:${spec.port}`, credentials, (err, port) => {
  if (err) throw err;
  process.stdout.write(`peer listening on ${port}\n`);
});

process.on("SIGTERM", () => {
  server.forceShutdown();
  void lookup.close().then(() => process.exit(0));
});
