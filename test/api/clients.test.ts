// The same API through clients we did not write: @grpc/grpc-js with a client
// certificate, `buf curl` (Go), gRPC-Web and plain Connect JSON over fetch.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { bearer, startTestService, type TestService } from "../support/service.js";
import { fileSpec, pngLikeBytes, putUpload } from "../support/upload.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../..");
const buf = join(root, "node_modules/.bin/buf");

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.stop();
});

const bytes = pngLikeBytes(1234);

describe("@grpc/grpc-js with a client certificate", () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let client: any;
  beforeAll(() => {
    const definition = protoLoader.loadSync("file/v1/file_service.proto", {
      includeDirs: [join(root, "proto")],
      longs: String,
      enums: String,
      defaults: true,
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const credentials = grpc.credentials.createSsl(
      Buffer.from(svc.pki.ca),
      Buffer.from(svc.pki.hangout.key),
      Buffer.from(svc.pki.hangout.cert),
    );
    client = new pkg.file.v1.FileService(`localhost:${svc.grpcPort}`, credentials);
  });
  afterAll(() => client?.close());

  const call = <T,>(method: string, request: object) =>
    new Promise<T>((resolve, reject) =>
      client[method](request, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
    );

  it("runs the presigned flow", async () => {
    const res = await call<{ uploads: Array<{ fileId: string; url: string; method: string; headers: Record<string, string> }> }>(
      "GenerateUploadURLs",
      { ownerId: "grpcjs-owner", files: [{ ...fileSpec(bytes), sizeBytes: String(bytes.length) }] },
    );
    const upload = res.uploads[0]!;
    expect((await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes })).status).toBe(200);
    const confirmed = await call<{ files: Array<{ id: string; status: string; sizeBytes: string }> }>("ConfirmUpload", {
      ownerId: "grpcjs-owner",
      fileIds: [upload.fileId],
    });
    expect(confirmed.files[0]).toMatchObject({ id: upload.fileId, status: "FILE_STATUS_UPLOADED", sizeBytes: "1234" });
  });

  it("gets standard status codes and readable messages", async () => {
    const err = await call("GetFile", { ownerId: "grpcjs-owner", fileId: "0190a000-0000-7000-8000-000000000000" }).catch(
      (e: grpc.ServiceError) => e,
    );
    expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    expect((err as grpc.ServiceError).details).toBe("file 0190a000-0000-7000-8000-000000000000 not found");

    const bad = await call("GenerateUploadURLs", { ownerId: "grpcjs-owner", files: [] }).catch((e: grpc.ServiceError) => e);
    expect((bad as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  // grpc-js decodes grpc-message with decodeURI, which leaves %3A and %2C as they
  // are: only what the gRPC spec asks may be percent-encoded (bytes outside
  // 0x20-0x7E, and "%").
  it("reads messages as written: colons, commas, quotes, percent signs and non-ASCII", async () => {
    const err = (await call("GetFile", { ownerId: "grpcjs-owner", fileId: "50%, é: x" }).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe('file_id: "50%, é: x" is not a file id (a UUID)');
  });
});

describe("buf curl over gRPC + mTLS", () => {
  it("calls FileService and Health with the proto schema", async () => {
    const tls = ["--cacert", svc.pki.paths.caCert, "--cert", svc.pki.hangout.certFile, "--key", svc.pki.hangout.keyFile];
    const request = JSON.stringify({ ownerId: "bufcurl-owner", files: [fileSpec(bytes)].map((f) => ({ ...f, sizeBytes: String(f.sizeBytes) })) });
    // Asynchronous on purpose: the S3 server and our listeners live in this process tree.
    const { stdout } = await run(
      buf,
      ["curl", "--schema", "proto", "--protocol", "grpc", ...tls, "-d", request, `${svc.grpcUrl}/file.v1.FileService/GenerateUploadURLs`],
      { cwd: root },
    );
    const uploads = JSON.parse(stdout).uploads as Array<{ fileId: string; method: string }>;
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.method).toBe("PUT");
    const listed = await svc.serviceClient().listFiles({ ownerId: "bufcurl-owner" });
    expect(listed.files.map((f) => f.id)).toEqual([uploads[0]!.fileId]);

    const health = await run(
      buf,
      ["curl", "--schema", "proto", "--protocol", "grpc", ...tls, "-d", "{}", `${svc.grpcUrl}/grpc.health.v1.Health/Check`],
      { cwd: root },
    );
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  });

  it("shows a refused caller a clear error", async () => {
    const result = await run(
      buf,
      [
        "curl", "--schema", "proto", "--protocol", "grpc", "--cacert", svc.pki.paths.caCert,
        "--cert", svc.pki.paths.clients[1]!.cert, "--key", svc.pki.paths.clients[1]!.key,
        "-d", "{}", `${svc.grpcUrl}/file.v1.FileService/ListFiles`,
      ],
      { cwd: root },
    ).catch((e: { stderr: string; code: number }) => e);
    expect("code" in result && result.code).not.toBe(0);
    expect((result as { stderr: string }).stderr).toContain("permission_denied");
  });
});

describe("browser protocols on the public listener", () => {
  it("serves gRPC-Web", async () => {
    const token = await svc.userToken("web-user");
    const client = createClient(
      FileService,
      createGrpcWebTransport({
        baseUrl: svc.httpUrl,
        httpVersion: "1.1",
        interceptors: [bearer(token)],
      }),
    );
    const { uploads } = await client.generateUploadURLs({ files: [fileSpec(bytes)] });
    await putUpload(uploads[0]!, bytes);
    const { files } = await client.confirmUpload({ fileIds: [uploads[0]!.fileId] });
    expect(files[0]?.ownerId).toBe("web-user");
  });

  it("serves Connect over h2 and HTTP/1.1 on one TLS port when given a certificate", async () => {
    const tlsSvc = await startTestService({
      db: svc.db,
      s3: svc.s3,
      pki: svc.pki,
      env: { PUBLIC_TLS_CERT_FILE: svc.pki.paths.serverCert, PUBLIC_TLS_KEY_FILE: svc.pki.paths.serverKey },
    });
    try {
      expect(tlsSvc.httpUrl).toMatch(/^https:/);
      const token = await tlsSvc.userToken("tls-user");
      for (const httpVersion of ["2", "1.1"] as const) {
        // No client certificate: the public listener authenticates users by JWT only.
        const client = createClient(
          FileService,
          createConnectTransport({ baseUrl: tlsSvc.httpUrl, httpVersion, nodeOptions: { ca: svc.pki.ca }, interceptors: [bearer(token)] }),
        );
        expect((await client.listFiles({})).files).toEqual([]);
      }
    } finally {
      await tlsSvc.stop();
    }
  });

  it("serves Connect JSON to plain fetch/curl, with JSON errors and no stack traces", async () => {
    const token = await svc.userToken("json-user");
    const post = (path: string, body: unknown) =>
      fetch(`${svc.httpUrl}/file.v1.FileService/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    const ok = await post("GenerateUploadURLs", {
      files: [{ filename: "a.png", contentType: "image/png", sizeBytes: "1234", md5: fileSpec(bytes).md5 }],
    });
    expect(ok.status).toBe(200);
    const json = (await ok.json()) as { uploads: Array<{ fileId: string; expiresAt: string }> };
    expect(json.uploads[0]!.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const bad = await post("GetFile", { fileId: "not-a-uuid" });
    expect(bad.status).toBe(400);
    const text = await bad.text();
    expect(JSON.parse(text)).toEqual({ code: "invalid_argument", message: 'file_id: "not-a-uuid" is not a file id (a UUID)' });
    expect(text).not.toMatch(/\bat .*\.ts:\d+/);

    const malformed = await fetch(`${svc.httpUrl}/file.v1.FileService/GetFile`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("invalid_argument");
  });
});
