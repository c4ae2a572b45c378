// @file-service/client against the zero-setup service as a person starts it:
// the client finds it the way the CLI does, uploads paths and bytes with the
// presigned flow (MD5 and size computed, PUTs in parallel and retried),
// streams through the service, gets URLs and watches; and the README's
// example runs as printed.
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ConfirmFailureCode,
  createFileClient,
  FileEventType,
  FilePurpose,
  FileStatus,
  findService,
  prepareFile,
  ProcessingStatus,
  putPresigned,
  PutError,
  type FileClient,
  type UploadProgress,
} from "@file-service/client";
import { readmeBlock } from "../support/readme.js";
import { solid } from "../support/images.js";
import { startZeroSetup, type ZeroSetupService } from "../support/zero-setup.js";

let zs: ZeroSetupService;
let client: FileClient;
let owner: string;
let images: string;

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");

beforeAll(async () => {
  zs = await startZeroSetup();
  const found = await findService({}, { DATA_DIR: join(zs.dir, "data"), GRPC_PORT: String(zs.grpcPort) });
  owner = found.owner!;
  client = createFileClient(found.options);
  images = await mkdtemp(join(tmpdir(), "fs-client-images-"));
});

afterAll(async () => {
  client?.close();
  await zs?.stop();
  if (images) await rm(images, { recursive: true, force: true });
});

describe("findService", () => {
  it("finds the zero-setup credentials under DATA_DIR and acts for demo; a token goes to the public listener as its user", async () => {
    const found = await findService({}, { DATA_DIR: join(zs.dir, "data"), GRPC_PORT: String(zs.grpcPort) });
    expect(found).toMatchObject({ owner: "demo", via: `zero-setup credentials under ${join(zs.dir, "data")}`, options: { url: `https://localhost:${zs.grpcPort}` } });
    const viaToken = await findService({}, { FILE_SERVICE_TOKEN: "t", HTTP_PORT: "1234", DATA_DIR: join(zs.dir, "data") });
    expect(viaToken).toMatchObject({ owner: "", via: "FILE_SERVICE_TOKEN", options: { url: "http://localhost:1234", token: "t" } });
  });

  it("says what is missing instead of guessing", async () => {
    await expect(findService({}, { DATA_DIR: join(images, "nothing-here") })).rejects.toThrow(/no zero-setup client certificate in .*nothing-here\/dev\/certs. Start the service here with `npm start`/);
    await expect(findService({ cert: "c.pem" }, {})).rejects.toThrow("--ca, --key missing");
  });
});

describe("uploadFiles", () => {
  it("uploads paths and bytes: MD5 and size computed, more than one batch, PUTs in parallel within the bound, confirmed in input order", async () => {
    const colors = ["#aa0000", "#00aa00", "#0000aa", "#aaaa00", "#00aaaa", "#aa00aa"];
    const paths: string[] = [];
    const bytesOf = new Map<string, Buffer>();
    for (let i = 0; i < 11; i++) {
      const format = (["jpeg", "png", "webp", "gif"] as const)[i % 4]!;
      const bytes = await solid(40 + i, 30, format, colors[i % colors.length]);
      const path = join(images, `picture-${String(i).padStart(2, "0")}.${format === "jpeg" ? "jpg" : format}`);
      await writeFile(path, bytes);
      paths.push(path);
      bytesOf.set(`picture-${String(i).padStart(2, "0")}.${format === "jpeg" ? "jpg" : format}`, bytes);
    }
    const buffer = await solid(64, 64, "png", "#123456");
    bytesOf.set("from-memory.png", buffer);

    const events: UploadProgress[] = [];
    const inFlight = new Set<number>();
    let maxInFlight = 0;
    const result = await client.uploadFiles(owner, [...paths, { data: buffer, filename: "from-memory.png" }], {
      purpose: FilePurpose.POST_ATTACHMENT,
      concurrency: 3,
      onProgress: (p) => {
        events.push(p);
        if (p.phase === "sending") inFlight.add(p.index);
        if (p.phase === "sent" || p.phase === "failed") inFlight.delete(p.index);
        maxInFlight = Math.max(maxInFlight, inFlight.size);
      },
    });

    expect(result.failures).toEqual([]);
    expect(result.files.map((f) => f.filename)).toEqual([...bytesOf.keys()]);
    for (const file of result.files) {
      const bytes = bytesOf.get(file.filename)!;
      expect(file).toMatchObject({ ownerId: "demo", status: FileStatus.UPLOADED, sizeBytes: BigInt(bytes.length), md5: md5(bytes), purpose: FilePurpose.POST_ATTACHMENT });
    }
    expect(maxInFlight).toBe(3);
    for (let index = 0; index < 12; index++) {
      const mine = events.filter((e) => e.index === index);
      expect(mine.map((e) => e.phase)).toContain("confirmed");
      expect(Math.max(...mine.filter((e) => e.phase === "sending").map((e) => e.loaded))).toBe(mine[0]!.total);
    }
  });

  it("reports per file what failed: bytes that are not their declared type fail ConfirmUpload with TYPE_MISMATCH, the others are confirmed", async () => {
    const good = await solid(20, 20, "jpeg");
    const result = await client.uploadFiles(owner, [
      { data: Buffer.from("this is not a picture, whatever its name says"), filename: "fake.png" },
      { data: good, filename: "real.jpg" },
    ]);
    expect(result.files.map((f) => f.filename)).toEqual(["real.jpg"]);
    expect(result.failures).toEqual([
      expect.objectContaining({ index: 0, name: "fake.png", fileId: result.fileIds[0], stage: "confirm", code: ConfirmFailureCode.TYPE_MISMATCH, reason: expect.stringContaining("not an image") }),
    ]);
  });

  it("throws the service's InvalidArgument for a request it refuses, and reserves nothing", async () => {
    const before = (await client.listFiles({ ownerId: owner, status: FileStatus.PENDING })).files.length;
    const error = await client.uploadFiles(owner, [{ data: Buffer.from("notes"), filename: "notes.txt" }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toContain('files[0].filename: extension ".txt" is not allowed');
    expect((await client.listFiles({ ownerId: owner, status: FileStatus.PENDING })).files.length).toBe(before);
  });
});

/** A front for the store that fails the first requests as told, then passes requests through, counting them. */
async function flakyFront(failures: ("reset" | 503)[]): Promise<{ server: Server; port: number; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const failure = failures.shift();
    if (failure === "reset") return req.socket.destroy();
    if (failure === 503) {
      req.resume();
      return void res.writeHead(503).end("<Error><Code>SlowDown</Code><Message>try again</Message></Error>");
    }
    const upstream = request({ host: "127.0.0.1", port: zs.httpPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, requests: () => requests };
}

describe("putPresigned", () => {
  async function presigned(bytes: Buffer) {
    const spec = await prepareFile({ data: bytes, filename: "retry.png" });
    const { uploads } = await client.generateUploadURLs({
      ownerId: owner,
      files: [{ filename: spec.filename, contentType: spec.contentType, sizeBytes: BigInt(spec.sizeBytes), md5: spec.md5 }],
    });
    return { spec, upload: uploads[0]! };
  }

  it("retries a reset connection and a 5xx, then the bytes arrive intact (ConfirmUpload accepts them)", async () => {
    const { spec, upload } = await presigned(await solid(30, 30, "png", "#010203"));
    const front = await flakyFront(["reset", 503]);
    try {
      const url = new URL(upload.url);
      url.port = String(front.port);
      await putPresigned({ ...upload, url: url.toString() }, spec.body, { retries: 3 });
      expect(front.requests()).toBe(3);
      const { files, failures } = await client.confirmUpload({ ownerId: owner, fileIds: [upload.fileId] });
      expect(failures).toEqual([]);
      expect(files[0]?.md5).toBe(spec.md5);
    } finally {
      front.server.close();
    }
  });

  it("gives up after the bound, and never retries a 4xx (the store's refusal says why)", async () => {
    const { spec, upload } = await presigned(await solid(30, 30, "png", "#040506"));
    const front = await flakyFront([503, 503, 503]);
    try {
      const url = new URL(upload.url);
      url.port = String(front.port);
      const gaveUp = await putPresigned({ ...upload, url: url.toString() }, spec.body, { retries: 2 }).catch((e: unknown) => e);
      expect(gaveUp).toBeInstanceOf(PutError);
      expect(gaveUp).toMatchObject({ status: 503, message: "upload of the bytes refused: HTTP 503 SlowDown: try again" });
      expect(front.requests()).toBe(3);

      // A header that differs from the signed one: the store refuses, once.
      const tampered = { ...upload, url: url.toString(), headers: { ...upload.headers, "Content-Type": "image/jpeg" } };
      const refused = await putPresigned(tampered, spec.body, { retries: 3 }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 403, message: expect.stringContaining("SignatureDoesNotMatch") });
      expect(front.requests()).toBe(4);
    } finally {
      front.server.close();
    }
  });
});

describe("uploadStream, downloadUrls, watch", () => {
  it("streams bytes the backend holds (a path, or chunks) and answers with the processed file", async () => {
    const bytes = await solid(300, 200, "jpeg", "#336699");
    const path = join(images, "held.jpg");
    await writeFile(path, bytes);
    let loaded = 0;
    const fromPath = await client.uploadStream(owner, path, { purpose: FilePurpose.AVATAR, onProgress: (n) => (loaded = n) });
    expect(loaded).toBe(bytes.length);
    expect(fromPath).toMatchObject({ filename: "held.jpg", status: FileStatus.UPLOADED, processingStatus: ProcessingStatus.COMPLETED, sha256: createHash("sha256").update(bytes).digest("hex") });
    expect(fromPath.variants.map((v) => v.name).sort()).toEqual(["large", "medium", "thumb"]);

    const other = await solid(120, 80, "png", "#996633");
    async function* chunks() {
      for (let at = 0; at < other.length; at += 100) yield other.subarray(at, at + 100);
    }
    const fromChunks = await client.uploadStream(owner, chunks(), { filename: "chunks.png" });
    expect(fromChunks).toMatchObject({ filename: "chunks.png", contentType: "image/png", sizeBytes: BigInt(other.length) });
  });

  it("gets download URLs that serve the original and the variants", async () => {
    const bytes = await solid(200, 100, "png", "#aabbcc");
    const file = await client.uploadStream(owner, bytes, { filename: "download.png" });
    const [original] = await client.downloadUrls(owner, [file.id]);
    expect(md5(new Uint8Array(await (await fetch(original!.url)).arrayBuffer()))).toBe(md5(bytes));
    const [thumb] = await client.downloadUrls(owner, [file.id], { variant: "thumb", attachment: true });
    const response = await fetch(thumb!.url);
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment/);
  });

  it("watches: the current state first, then each change; aborting ends the stream quietly", async () => {
    const { files } = await client.uploadFiles(owner, [{ data: await solid(50, 50, "gif"), filename: "watched.gif" }]);
    const id = files[0]!.id;
    const settled = await client.waitForProcessing(owner, [id], { timeoutMs: 20_000 });
    expect(settled.get(id)?.processingStatus).toBe(ProcessingStatus.COMPLETED);

    const stop = new AbortController();
    const seen: FileEventType[] = [];
    const watching = (async () => {
      for await (const event of client.watch(owner, [id], { signal: stop.signal })) {
        seen.push(event.type);
        if (event.type === FileEventType.CURRENT) await client.deleteFile({ ownerId: owner, fileId: id });
        if (event.type === FileEventType.DELETED) stop.abort();
      }
    })();
    await watching;
    expect(seen).toEqual([FileEventType.CURRENT, FileEventType.DELETED]);
  });

  it("works over Connect with a user token (for tools): the token's user owns what it uploads", async () => {
    const token = (await zs.run("cat data/dev/token")).stdout.trim();
    const found = await findService({ token }, { HTTP_PORT: String(zs.httpPort) });
    const asUser = createFileClient(found.options);
    try {
      const result = await asUser.uploadFiles(found.owner!, [{ data: await solid(10, 10, "webp"), filename: "tool.webp" }]);
      expect(result.files[0]).toMatchObject({ ownerId: "demo", status: FileStatus.UPLOADED });
    } finally {
      asUser.close();
    }
  });
});

describe("examples/hangout-memories.ts", () => {
  it("runs as the README prints it and prints the confirmed memories", async () => {
    const command = readmeBlock("backend-client", "sh").trim();
    expect(command).toBe("npx tsx examples/hangout-memories.ts");
    const { code, stdout, stderr } = await zs.run(command);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain(`file-service at https://localhost:${zs.grpcPort} (zero-setup credentials under data), for demo`);
    expect(stdout).toMatch(/^memory "Picnic at the lake" \([0-9a-f-]{36}\): 2 of 2 photos confirmed$/m);
    expect(stdout).toMatch(/^memory "Board game night" \([0-9a-f-]{36}\): 1 of 1 photos confirmed$/m);
    const printed = [...stdout.matchAll(/^ {2}([0-9a-f-]{36}) (\S+) 11364 bytes 800x533 variants: large,thumb$/gm)];
    expect(printed.map((m) => m[2])).toEqual(["lake.jpg", "sandwiches.jpg", "winner.jpg"]);
    // What it printed is what the service holds.
    const { files, notFoundIds } = await client.batchGetFiles({ ownerId: "demo", fileIds: printed.map((m) => m[1]!) });
    expect(notFoundIds).toEqual([]);
    expect(files.map((f) => [f.filename, f.status])).toEqual(printed.map((m) => [m[2], FileStatus.UPLOADED]));
  }, 60_000);
});
