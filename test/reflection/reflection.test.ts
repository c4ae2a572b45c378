// gRPC server reflection, driven by `buf curl` (Go, connectrpc/grpcreflect)
// without any schema, and by a connect-es client for the error paths.
import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastify } from "fastify";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { createClient, type ConnectRouter } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileService, file_file_v1_file_service } from "../../gen/file/v1/file_service_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  file_grpc_health_v1_health,
} from "../../gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { registerReflection } from "../../src/reflection/reflection-service.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../..");
const bufBin = join(root, "node_modules/.bin/buf");

const EXPIRES = new Date("2030-01-02T03:04:05Z");

function routes(router: ConnectRouter) {
  // A fake FileService: this test is about reflection, not about files.
  router.service(FileService, {
    async generateUploadURLs(req) {
      return {
        uploads: req.files.map((f, i) => ({
          fileId: `file-${i}`,
          url: `https://bucket.example/${f.filename}`,
          method: "PUT",
          headers: { "content-type": f.contentType, "content-md5": f.md5, "content-length": String(f.sizeBytes) },
          expiresAt: timestampFromDate(EXPIRES),
        })),
      };
    },
  });
  router.service(Health, {
    async check() {
      return { status: HealthCheckResponse_ServingStatus.SERVING };
    },
  });
  registerReflection(router, [file_file_v1_file_service, file_grpc_health_v1_health]);
}

let app: { close(): Promise<unknown> } | undefined;
let baseUrl: string;
/** Request paths seen by the server, to tell which reflection version a client used. */
const paths: string[] = [];
beforeAll(async () => {
  // Plaintext HTTP/2 (h2c): what `buf curl` uses for reflection on an http:// URL.
  const server = fastify({ http2: true, forceCloseConnections: true });
  app = server;
  server.addHook("onRequest", async (req) => {
    paths.push(req.url);
  });
  await server.register(fastifyConnectPlugin, { routes });
  await server.listen({ host: "127.0.0.1", port: 0 });
  baseUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
});

async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await run(bufBin, ["curl", ...args], { cwd: root, timeout: 20_000 });
  return stdout;
}

describe("buf curl with server reflection", () => {
  it("lists the services, the reflection services included", async () => {
    const out = await bufCurl("--list-services", baseUrl);
    expect(out.trim().split("\n").sort()).toEqual([
      "file.v1.FileService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("lists the methods", async () => {
    const lines = (await bufCurl("--list-methods", baseUrl)).trim().split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "file.v1.FileService/GenerateUploadURLs",
        "file.v1.FileService/ListFiles",
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]),
    );
    expect(lines.filter((l) => l.startsWith("file.v1.FileService/"))).toHaveLength(FileService.methods.length);
  });

  const body = {
    ownerId: "owner-1",
    files: [{ filename: "cat.png", contentType: "image/png", sizeBytes: "1234", md5: "1B2M2Y8AsgTpgAmY7PhCfg==" }],
  };
  const expected = {
    uploads: [
      {
        fileId: "file-0",
        url: "https://bucket.example/cat.png",
        method: "PUT",
        headers: { "content-type": "image/png", "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==", "content-length": "1234" },
        expiresAt: "2030-01-02T03:04:05Z",
      },
    ],
  };

  it("calls a method with no --schema (nested messages, a map, a Timestamp)", async () => {
    paths.length = 0;
    const out = await bufCurl("--data", JSON.stringify(body), `${baseUrl}/file.v1.FileService/GenerateUploadURLs`);
    expect(JSON.parse(out)).toEqual(expected);
    expect(paths).toContain("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  });

  it("works over the gRPC protocol and the v1alpha reflection service", async () => {
    paths.length = 0;
    const out = await bufCurl(
      "--reflect-protocol",
      "grpc-v1alpha",
      "--protocol",
      "grpc",
      "--data",
      JSON.stringify(body),
      `${baseUrl}/file.v1.FileService/GenerateUploadURLs`,
    );
    expect(JSON.parse(out)).toEqual(expected);
    expect(paths).toContain("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    expect(paths).not.toContain("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  });

  it("lists with v1alpha only", async () => {
    paths.length = 0;
    const out = await bufCurl("--reflect-protocol", "grpc-v1alpha", "--list-services", baseUrl);
    expect(out).toContain("file.v1.FileService");
    expect(paths).toEqual(["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"]);
  });
});

describe("the reflection service, called directly", () => {
  async function ask(
    ...requests: MessageInitShape<typeof ServerReflectionRequestSchema>[]
  ): Promise<ServerReflectionResponse[]> {
    const client = createClient(ServerReflection, createConnectTransport({ baseUrl, httpVersion: "2" }));
    async function* input() {
      for (const r of requests) yield create(ServerReflectionRequestSchema, r);
    }
    const out: ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(input())) out.push(res);
    return out;
  }
  const fileNames = (res: ServerReflectionResponse | undefined) =>
    res?.messageResponse.case === "fileDescriptorResponse"
      ? res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
      : [];

  it("answers NOT_FOUND for an unknown symbol, echoing host and request", async () => {
    const [res] = await ask({ host: "h", messageRequest: { case: "fileContainingSymbol", value: "file.v1.Nope" } });
    expect(res?.validHost).toBe("h");
    expect(res?.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "file.v1.Nope" });
    expect(res?.messageResponse.case).toBe("errorResponse");
    expect(res?.messageResponse.value).toMatchObject({ errorCode: 5 });
  });

  it("finds nested, map-entry, enum and method symbols with their dependencies", async () => {
    const responses = await ask(
      { messageRequest: { case: "fileContainingSymbol", value: "file.v1.PresignedUpload.HeadersEntry" } },
      { messageRequest: { case: "fileContainingSymbol", value: "file.v1.FileStatus" } },
      { messageRequest: { case: "fileContainingSymbol", value: "file.v1.FileService.GetFile" } },
      { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
      { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
    );
    const withTimestamp = ["file/v1/file_service.proto", "google/protobuf/timestamp.proto"];
    expect(responses.map(fileNames)).toEqual([
      withTimestamp,
      withTimestamp,
      withTimestamp,
      ["grpc/health/v1/health.proto"],
      ["google/protobuf/timestamp.proto"],
      [],
    ]);
    expect(responses[5]?.messageResponse.value).toMatchObject({ errorCode: 5 });
  });

  it("answers the extension requests", async () => {
    const [ext, numbers, unknown] = await ask(
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "file.v1.File", extensionNumber: 100 } } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "file.v1.File" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "file.v1.Nope" } },
    );
    expect(ext?.messageResponse.value).toMatchObject({ errorCode: 5 });
    expect(numbers?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "file.v1.File", extensionNumber: [] },
    });
    expect(unknown?.messageResponse.value).toMatchObject({ errorCode: 5 });
  });
});
