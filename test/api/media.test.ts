// The media pipeline through real clients: uploads through gRPC (unary and
// streamed), types decided by the bytes, dedup, variants with EXIF stripped,
// decompression bombs refused, and processing of presigned uploads.
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  ConfirmFailureCode,
  FilePurpose,
  FileStatus,
  ProcessingStatus,
  type File,
  type UploadFileStreamRequest,
  UploadMetadataSchema,
} from "../../gen/file/v1/file_service_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { bombPng, COPYRIGHT_MARKER, htmlBytes, noisePng, sidewaysWithGps, solid } from "../support/images.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: { PROCESSING_POLL_MS: "100", PROCESSING_RETRY_BASE_MS: "100" } });
});
afterAll(async () => {
  await svc?.stop();
});

const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

type StreamMessage = Omit<UploadFileStreamRequest, "$typeName" | "$unknown">;

async function* streamOf(
  metadata: { ownerId: string; filename: string; contentType: string; purpose: FilePurpose; processing?: { async: boolean } },
  bytes: Uint8Array,
  chunkSize = 64 * 1024,
): AsyncIterable<StreamMessage> {
  yield { payload: { case: "metadata", value: create(UploadMetadataSchema, { ...metadata, processing: undefined }) } };
  for (let i = 0; i < bytes.length; i += chunkSize) yield { payload: { case: "chunk", value: bytes.subarray(i, i + chunkSize) } };
}

/** A stream whose metadata declares `sizeBytes` (UploadMetadata.size_bytes). */
async function* sizedStreamOf(
  metadata: { ownerId: string; filename?: string; purpose?: FilePurpose; async?: boolean; sizeBytes: bigint },
  bytes: Uint8Array,
  chunkSize = 64 * 1024,
): AsyncIterable<StreamMessage> {
  const { ownerId, filename = "sized.png", purpose = FilePurpose.COVER_PHOTO, sizeBytes } = metadata;
  yield {
    payload: {
      case: "metadata",
      value: create(UploadMetadataSchema, {
        ownerId,
        filename,
        contentType: "image/png",
        purpose,
        sizeBytes,
        processing: { webpQuality: 0, async: metadata.async ?? true },
      }),
    },
  };
  for (let i = 0; i < bytes.length; i += chunkSize) yield { payload: { case: "chunk", value: bytes.subarray(i, i + chunkSize) } };
}

/** The keys of every original in the bucket (variants are made in the background by other tests). */
async function originalKeys(): Promise<string[]> {
  const s3 = new S3Client({
    region: "us-east-1",
    endpoint: svc.s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: svc.s3.bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? "").filter((key) => key.endsWith("/original")));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return keys.sort();
  } finally {
    s3.destroy();
  }
}

/** Waits for the bucket's originals to be `expected` again: a refused upload's cleanup may finish just after the answer. */
async function expectOriginals(expected: string[]): Promise<void> {
  let keys = await originalKeys();
  for (let i = 0; i < 50 && keys.join() !== expected.join(); i++) {
    await new Promise((r) => setTimeout(r, 100));
    keys = await originalKeys();
  }
  expect(keys).toEqual(expected);
}

async function download(ownerId: string, fileId: string, variant = ""): Promise<Response> {
  const { urls } = await svc.serviceClient().getDownloadURLs({ ownerId, fileIds: [fileId], variant });
  return fetch(urls[0]!.url);
}

async function waitForProcessing(ownerId: string, fileId: string): Promise<File> {
  for (let i = 0; i < 100; i++) {
    const { file } = await svc.serviceClient().getFile({ ownerId, fileId });
    if (file && file.processingStatus !== ProcessingStatus.PENDING && file.processingStatus !== ProcessingStatus.PROCESSING) {
      return file;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`file ${fileId} was not processed in time`);
}

describe("UploadFileStream", () => {
  it("takes 20 MiB in 64 KiB chunks over gRPC + mTLS, intact, with variants", async () => {
    const bytes = await noisePng(20 * MIB);
    expect(bytes.length).toBeGreaterThan(19 * MIB);
    const { file } = await svc.serviceClient().uploadFileStream(
      streamOf({ ownerId: "stream-owner", filename: "cover.png", contentType: "image/png", purpose: FilePurpose.COVER_PHOTO }, bytes),
    );
    expect(file?.sha256).toBe(sha256(bytes));
    expect(file?.sizeBytes).toBe(BigInt(bytes.length));
    expect(file?.status).toBe(FileStatus.UPLOADED);
    expect(file?.processingStatus).toBe(ProcessingStatus.COMPLETED);
    expect(file?.variants.map((v) => [v.name, v.width, v.height])).toEqual([
      ["large", 1600, 600],
      ["medium", 800, 300],
      ["thumb", 400, 150],
    ]);
    const original = Buffer.from(await (await download("stream-owner", file!.id)).arrayBuffer());
    expect(sha256(original)).toBe(sha256(bytes));
  });

  it("refuses a stream as soon as it passes the purpose's limit, without leaving the client waiting", async () => {
    let sent = 0;
    async function* endless(): AsyncIterable<StreamMessage> {
      yield* streamOf({ ownerId: "limit-owner", filename: "p.png", contentType: "image/png", purpose: FilePurpose.PROFILE_PICTURE }, await solid(10, 10, "png"));
      const chunk = new Uint8Array(64 * 1024);
      for (;;) {
        sent += chunk.length;
        yield { payload: { case: "chunk", value: chunk } };
        if (sent > 200 * MIB) throw new Error("the server never stopped the stream");
      }
    }
    const started = Date.now();
    const error = await rpcError(svc.serviceClient().uploadFileStream(endless()));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("data: the file is larger than the 10485760-byte limit for profile pictures");
    expect(sent).toBeLessThan(40 * MIB); // stopped near the limit, not at the end of the client's data
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await svc.files.list({ ownerId: "limit-owner", statuses: ["pending", "uploaded", "deleted"], limit: 10 })).length).toBe(0);
  });

  it("refuses bytes that are not the declared image type at the first chunk", async () => {
    const error = await rpcError(
      svc.serviceClient().uploadFileStream(
        streamOf({ ownerId: "html-owner", filename: "page.png", contentType: "image/png", purpose: FilePurpose.POST_ATTACHMENT }, htmlBytes()),
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain("not an image of an allowed type");
  });

  describe("with size_bytes (stored while it arrives)", () => {
    it("stores the bytes intact, checked and processed as without it", async () => {
      const bytes = Buffer.concat([await noisePng(3 * MIB), randomBytes(16)]);
      const sizeBytes = BigInt(bytes.length);
      const before = await originalKeys();
      const { file } = await svc.serviceClient().uploadFileStream(sizedStreamOf({ ownerId: "sized-owner", sizeBytes }, bytes));
      expect(file?.sha256).toBe(sha256(bytes));
      expect(file?.md5).toBe(createHash("md5").update(bytes).digest("base64"));
      expect(file?.sizeBytes).toBe(sizeBytes);
      expect(file?.status).toBe(FileStatus.UPLOADED);
      expect(await originalKeys()).toEqual([...before, `files/${file!.id}/original`].sort());
      expect(sha256(Buffer.from(await (await download("sized-owner", file!.id)).arrayBuffer()))).toBe(sha256(bytes));
      expect((await waitForProcessing("sized-owner", file!.id)).processingStatus).toBe(ProcessingStatus.COMPLETED);

      // Processed at once, too.
      const small = await solid(800, 300, "png");
      const sync = await svc.serviceClient().uploadFileStream(
        sizedStreamOf({ ownerId: "sized-owner", sizeBytes: BigInt(small.length), async: false }, small, 1000),
      );
      expect(sync.file?.processingStatus).toBe(ProcessingStatus.COMPLETED);
      expect(sync.file?.variants.map((v) => v.name)).toEqual(["large", "medium", "thumb"]);
    });

    it("gives the existing file for the same bytes and removes the copy it stored before knowing", async () => {
      const bytes = Buffer.concat([await noisePng(2 * MIB), randomBytes(16)]);
      const upload = () =>
        svc.serviceClient().uploadFileStream(sizedStreamOf({ ownerId: "sized-dedup", sizeBytes: BigInt(bytes.length) }, bytes));
      const first = await upload();
      const before = await originalKeys();
      const second = await upload();
      expect(second.file?.id).toBe(first.file?.id);
      await expectOriginals(before);
      expect((await svc.files.list({ ownerId: "sized-dedup", statuses: ["pending", "uploaded"], limit: 10 })).length).toBe(1);
    });

    it("refuses a stream that carries more or fewer bytes than declared, keeping nothing", async () => {
      const bytes = Buffer.concat([await noisePng(2 * MIB), randomBytes(16)]);
      const before = await originalKeys();
      const client = svc.serviceClient();
      const more = await rpcError(
        client.uploadFileStream(sizedStreamOf({ ownerId: "sized-liar", sizeBytes: BigInt(bytes.length - 100) }, bytes)),
      );
      expect(more.code).toBe(Code.InvalidArgument);
      expect(more.rawMessage).toBe(`data: the stream carries more than the ${bytes.length - 100} bytes of size_bytes`);
      const fewer = await rpcError(
        client.uploadFileStream(sizedStreamOf({ ownerId: "sized-liar", sizeBytes: BigInt(bytes.length + 100) }, bytes)),
      );
      expect(fewer.code).toBe(Code.InvalidArgument);
      expect(fewer.rawMessage).toBe(`data: the stream carried ${bytes.length} bytes, not the ${bytes.length + 100} of size_bytes`);
      await expectOriginals(before);
      expect((await svc.files.list({ ownerId: "sized-liar", statuses: ["pending", "uploaded", "deleted"], limit: 10 })).length).toBe(0);
    });

    it("refuses a declared size above the purpose's limit, or below 1, before reading the bytes", async () => {
      const client = svc.serviceClient();
      const png = await solid(10, 10, "png");
      const tooLarge = await rpcError(
        client.uploadFileStream(
          sizedStreamOf({ ownerId: "sized-limit", purpose: FilePurpose.PROFILE_PICTURE, sizeBytes: 10n * BigInt(MIB) + 1n }, png),
        ),
      );
      expect(tooLarge.code).toBe(Code.InvalidArgument);
      expect(tooLarge.rawMessage).toBe("size_bytes: 10485761 is larger than the 10485760-byte limit for profile pictures");
      const zero = await rpcError(client.uploadFileStream(sizedStreamOf({ ownerId: "sized-limit", sizeBytes: 0n }, png)));
      expect(zero.rawMessage).toBe("size_bytes: must be at least 1 when set");
    });

    it("keeps nothing of a stream the client aborts, nor of one that is not the declared type", async () => {
      const before = await originalKeys();
      const controller = new AbortController();
      const image = Buffer.concat([await noisePng(4 * MIB), randomBytes(16)]);
      let sent = 0;
      async function* abandoned(): AsyncIterable<StreamMessage> {
        for await (const message of sizedStreamOf({ ownerId: "sized-abort", sizeBytes: BigInt(image.length) }, image)) {
          yield message;
          if (message.payload.case === "chunk") sent += message.payload.value.length;
          if (sent >= 2 * MIB) controller.abort(); // half way
        }
      }
      const error = await rpcError(svc.serviceClient().uploadFileStream(abandoned(), { signal: controller.signal }));
      expect(error.code).toBe(Code.Canceled);
      const html = await rpcError(
        svc.serviceClient().uploadFileStream(sizedStreamOf({ ownerId: "sized-abort", sizeBytes: BigInt(htmlBytes().length) }, htmlBytes())),
      );
      expect(html.rawMessage).toContain("not an image of an allowed type");
      await expectOriginals(before);
      // The client left before the service cleaned up after it: nothing is left once it has (no row a client could list).
      await expect
        .poll(async () => (await svc.files.list({ ownerId: "sized-abort", statuses: ["pending", "uploaded", "deleted"], limit: 10 })).length, { timeout: 10_000 })
        .toBe(0);
    });
  });

  it("with size_bytes, answers Unavailable (not a stalled stream) when the object store cannot be reached", async () => {
    const cut = await startTestService({ db: svc.db, s3: svc.s3, pki: svc.pki, env: { S3_ENDPOINT: "http://127.0.0.1:1" } });
    try {
      const bytes = Buffer.concat([await noisePng(3 * MIB), randomBytes(16)]); // more than the service buffers for the store
      const error = await rpcError(
        cut.serviceClient().uploadFileStream(sizedStreamOf({ ownerId: "sized-s3-down", sizeBytes: BigInt(bytes.length) }, bytes)),
      );
      expect(error.code).toBe(Code.Unavailable);
      expect((await svc.files.list({ ownerId: "sized-s3-down", statuses: ["pending", "uploaded", "deleted"], limit: 10 })).length).toBe(0);
    } finally {
      await cut.stop();
    }
  });

  it("requires metadata first", async () => {
    async function* chunkFirst(): AsyncIterable<StreamMessage> {
      yield { payload: { case: "chunk", value: new Uint8Array(10) } };
    }
    expect((await rpcError(svc.serviceClient().uploadFileStream(chunkFirst()))).code).toBe(Code.InvalidArgument);
  });
});

describe("UploadFile", () => {
  it("turns a sideways JPEG with GPS tags into upright variants without any EXIF", async () => {
    const jpeg = await sidewaysWithGps(200, 400, "jpeg");
    const input = await sharp(jpeg).metadata();
    expect([input.orientation, input.width, input.height, input.exif !== undefined]).toEqual([6, 400, 200, true]);
    const { file } = await svc.serviceClient().uploadFile({
      ownerId: "exif-owner",
      filename: "IMG_0001.JPG",
      contentType: "image/jpeg",
      purpose: FilePurpose.POST_ATTACHMENT,
      data: jpeg,
    });
    expect([file?.width, file?.height]).toEqual([200, 400]); // upright
    expect(file?.blurhash).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{6,}$/);
    for (const variant of file!.variants) {
      const bytes = Buffer.from(await (await download("exif-owner", file!.id, variant.name)).arrayBuffer());
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe("webp");
      expect(meta.exif).toBeUndefined();
      expect(bytes.includes(Buffer.from("Exif"))).toBe(false);
      expect(bytes.includes(Buffer.from(COPYRIGHT_MARKER))).toBe(false);
      expect(meta.height).toBeGreaterThan(meta.width!); // portrait, as displayed
      const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      const top = data.subarray(0, info.channels); // first pixel: red side on top
      expect(top[0]).toBeGreaterThan(200);
      expect(top[2]).toBeLessThan(60);
    }
  });

  it("gives the same owner the existing file for the same bytes, and stores them once", async () => {
    const png = await solid(300, 300, "png", "#22aa66");
    const upload = () =>
      svc.serviceClient().uploadFile({
        ownerId: "dedup-owner",
        filename: "same.png",
        contentType: "image/png",
        purpose: FilePurpose.AVATAR,
        data: png,
      });
    const results = await Promise.all([upload(), upload(), upload()]);
    const ids = new Set(results.map((r) => r.file!.id));
    expect(ids.size).toBe(1);
    expect((await svc.files.list({ ownerId: "dedup-owner", statuses: ["uploaded"], limit: 10 })).length).toBe(1);
    expect(results[0]!.file!.variants.map((v) => [v.name, v.width])).toEqual([
      ["large", 600],
      ["medium", 300],
      ["thumb", 150],
    ]);
    // Another owner's identical bytes are that owner's own file.
    const other = await svc.serviceClient().uploadFile({
      ownerId: "dedup-other",
      filename: "same.png",
      contentType: "image/png",
      purpose: FilePurpose.AVATAR,
      data: png,
    });
    expect(other.file!.id).not.toBe(results[0]!.file!.id);
    // After a delete, the same bytes make a new file (and the variants are gone).
    const deleted = results[0]!.file!;
    await svc.serviceClient().deleteFile({ ownerId: "dedup-owner", fileId: deleted.id });
    const [record] = await svc.files.findByIds("dedup-owner", [deleted.id]);
    for (const v of record!.variants) await expect.poll(() => svc.objects.head(v.objectKey), { timeout: 10_000 }).toBeNull();
    const again = await upload();
    expect(again.file!.id).not.toBe(deleted.id);
  });

  it("refuses an HTML file named .png, a type that disagrees with the bytes, and a decompression bomb", async () => {
    const client = svc.serviceClient();
    const base = { ownerId: "refused-owner", purpose: FilePurpose.POST_ATTACHMENT };
    const html = await rpcError(client.uploadFile({ ...base, filename: "x.png", contentType: "image/png", data: htmlBytes() }));
    expect(html.code).toBe(Code.InvalidArgument);
    const liar = await rpcError(client.uploadFile({ ...base, filename: "x.jpg", contentType: "image/jpeg", data: await solid(20, 20, "png") }));
    expect(liar.rawMessage).toBe("content_type: the bytes are image/png, not image/jpeg");

    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const bomb = await rpcError(client.uploadFile({ ...base, filename: "bomb.png", contentType: "image/png", data: bombPng(30000, 30000) }));
    expect(bomb.code).toBe(Code.InvalidArgument);
    expect(bomb.rawMessage).toContain("30000x30000");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * MIB);
    expect((await svc.files.list({ ownerId: "refused-owner", statuses: ["pending", "uploaded", "deleted"], limit: 10 })).length).toBe(0);
  });

  it("can return at once and process in the background", async () => {
    const { file } = await svc.serviceClient().uploadFile({
      ownerId: "async-owner",
      filename: "later.png",
      contentType: "image/png",
      purpose: FilePurpose.STORY,
      data: await solid(2000, 1000, "png"),
      processing: { async: true },
    });
    expect([ProcessingStatus.PENDING, ProcessingStatus.PROCESSING, ProcessingStatus.COMPLETED]).toContain(file!.processingStatus);
    const done = await waitForProcessing("async-owner", file!.id);
    expect(done.variants.map((v) => [v.name, v.width, v.height])).toEqual([
      ["large", 1080, 540],
      ["thumb", 320, 160],
    ]);
  });
});

describe("presigned uploads", () => {
  it("are processed in the background after ConfirmUpload, which returns at once", async () => {
    const png = await solid(1200, 800, "png");
    const { uploads } = await svc.serviceClient().generateUploadURLs({
      ownerId: "presigned-owner",
      files: [{ ...fileSpec(png, "cover.png"), purpose: FilePurpose.COVER_PHOTO }],
    });
    await putUpload(uploads[0]!, png);
    const { files } = await svc.serviceClient().confirmUpload({ ownerId: "presigned-owner", fileIds: [uploads[0]!.fileId] });
    expect(files[0]!.processingStatus).toBe(ProcessingStatus.PENDING);
    const done = await waitForProcessing("presigned-owner", files[0]!.id);
    expect(done.processingStatus).toBe(ProcessingStatus.COMPLETED);
    expect(done.sha256).toBe(sha256(png));
    expect([done.width, done.height]).toEqual([1200, 800]);
    const thumb = await download("presigned-owner", done.id, "thumb");
    expect(thumb.headers.get("content-type")).toBe("image/webp");
    expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(400);
    const unknown = await rpcError(svc.serviceClient().getDownloadURLs({ ownerId: "presigned-owner", fileIds: [done.id], variant: "huge" }));
    expect(unknown.code).toBe(Code.InvalidArgument);
  });

  it("refuses (and removes) an HTML file uploaded as a PNG", async () => {
    const html = htmlBytes();
    const { uploads } = await svc.serviceClient().generateUploadURLs({ ownerId: "presigned-html", files: [fileSpec(html, "x.png")] });
    expect((await putUpload(uploads[0]!, html)).status).toBe(200);
    const res = await svc.serviceClient().confirmUpload({ ownerId: "presigned-html", fileIds: [uploads[0]!.fileId] });
    expect(res.failures.map((f) => f.code)).toEqual([ConfirmFailureCode.TYPE_MISMATCH]);
    const [record] = await svc.files.findByIds("presigned-html", [uploads[0]!.fileId]);
    expect(record!.status).toBe("pending");
    expect(await svc.objects.head(record!.objectKey)).toBeNull();
  });

  it("marks a decompression bomb FAILED with the reason, after the upload was confirmed", async () => {
    const bomb = bombPng(30000, 30000);
    const { uploads } = await svc.serviceClient().generateUploadURLs({ ownerId: "presigned-bomb", files: [fileSpec(bomb, "bomb.png")] });
    await putUpload(uploads[0]!, bomb);
    await svc.serviceClient().confirmUpload({ ownerId: "presigned-bomb", fileIds: [uploads[0]!.fileId] });
    const done = await waitForProcessing("presigned-bomb", uploads[0]!.fileId);
    expect(done.processingStatus).toBe(ProcessingStatus.FAILED);
    expect(done.processingError).toContain("30000x30000");
  });
});

describe("ProcessFile", () => {
  it("regenerates variants with other options", async () => {
    const { file } = await svc.serviceClient().uploadFile({
      ownerId: "reprocess-owner",
      filename: "r.png",
      contentType: "image/png",
      purpose: FilePurpose.PROFILE_PICTURE,
      data: await solid(800, 800, "png", "#cc3366"),
    });
    const before = file!.variants.find((v) => v.name === "large")!.sizeBytes;
    const { file: again } = await svc.serviceClient().processFile({
      ownerId: "reprocess-owner",
      fileId: file!.id,
      options: { webpQuality: 5 },
    });
    expect(again!.processingStatus).toBe(ProcessingStatus.COMPLETED);
    expect(again!.variants.find((v) => v.name === "large")!.sizeBytes).not.toBe(before);
    expect((await rpcError(svc.serviceClient().processFile({ ownerId: "reprocess-owner", fileId: file!.id, options: { webpQuality: 101 } }))).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("buf curl", () => {
  it("streams a file from stdin to UploadFileStream", async () => {
    const png = await solid(640, 480, "png", "#123456");
    const lines = [
      JSON.stringify({ metadata: { ownerId: "bufcurl-stream", filename: "s.png", contentType: "image/png", purpose: "FILE_PURPOSE_POST_ATTACHMENT" } }),
      ...Array.from({ length: Math.ceil(png.length / 1000) }, (_, i) => JSON.stringify({ chunk: png.subarray(i * 1000, (i + 1) * 1000).toString("base64") })),
    ];
    const root = join(import.meta.dirname, "../..");
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        join(root, "node_modules/.bin/buf"),
        [
          "curl", "--schema", "proto", "--protocol", "grpc",
          "--cacert", svc.pki.paths.caCert, "--cert", svc.pki.hangout.certFile, "--key", svc.pki.hangout.keyFile,
          "-d", "@-", `${svc.grpcUrl}/file.v1.FileService/UploadFileStream`,
        ],
        { cwd: root },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
      child.stdin!.end(lines.join("\n"));
    });
    const { file } = JSON.parse(stdout) as { file: { sha256: string; processingStatus: string } };
    expect(file.sha256).toBe(sha256(png));
    expect(file.processingStatus).toBe("PROCESSING_STATUS_COMPLETED");
  });
});
