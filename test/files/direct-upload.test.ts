// Uploads through the service (UploadFile, UploadFileStream) in process: the
// bytes decide the type, limits hold, the same bytes give the same file, and
// nothing is kept of a refused upload, neither a row nor an object.
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { FilePurpose, FileStatus, ProcessingStatus, UploadMetadataSchema, type UploadFileStreamRequest } from "../../gen/file/v1/file_service_pb.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { htmlBytes, solid } from "../support/images.js";
import { rpcError } from "../support/rpc.js";

let h: InProcess;
beforeEach(async () => {
  h = await startInProcess();
});
afterEach(async () => {
  await h?.close();
});

const owner = "owner-direct";
const MIB = 1024 * 1024;

/** Every object file the store holds (its own dot-files aside). */
async function storedObjects(): Promise<string[]> {
  const root = join(h.dir, "objects");
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

async function rows(): Promise<number> {
  return (await h.files.list({ ownerId: owner, statuses: ["pending", "uploaded", "deleted"], limit: 100 })).length;
}

function upload(data: Uint8Array, options: { filename?: string; contentType?: string; purpose?: FilePurpose; async?: boolean } = {}) {
  return h.asService().uploadFile({
    ownerId: owner,
    filename: options.filename ?? "photo.png",
    contentType: options.contentType ?? "image/png",
    purpose: options.purpose ?? FilePurpose.AVATAR,
    data,
    processing: { async: options.async ?? false, webpQuality: 0 },
  });
}

async function* stream(bytes: Uint8Array, metadata: { sizeBytes?: bigint } = {}): AsyncIterable<Omit<UploadFileStreamRequest, "$typeName">> {
  yield {
    payload: {
      case: "metadata",
      value: create(UploadMetadataSchema, { ownerId: owner, filename: "s.png", contentType: "image/png", purpose: FilePurpose.COVER_PHOTO, ...metadata }),
    },
  };
  for (let i = 0; i < bytes.length; i += 64 * 1024) yield { payload: { case: "chunk", value: bytes.subarray(i, i + 64 * 1024) } };
}

describe("UploadFile", () => {
  it("stores the bytes, processes them and answers with the variants", async () => {
    const png = await solid(640, 480, "png");
    const { file } = await upload(png);
    expect(file).toMatchObject({ status: FileStatus.UPLOADED, processingStatus: ProcessingStatus.COMPLETED, width: 640, height: 480 });
    expect(file!.sha256).toBe(createHash("sha256").update(png).digest("hex"));
    expect(file!.variants.map((v) => v.name)).toEqual(["large", "medium", "thumb"]);
    expect((await storedObjects()).sort()).toEqual(
      ["original", "large", "medium", "thumb"].map((name) => `files/${file!.id}/${name}`).sort(),
    );
  });

  it("gives the same owner the existing file for the same bytes, storing them once", async () => {
    const png = await solid(200, 200, "png", "#aa3300");
    const first = (await upload(png)).file!;
    const second = (await upload(png, { filename: "again.png" })).file!;
    expect(second.id).toBe(first.id);
    expect(await rows()).toBe(1);
    expect((await storedObjects()).filter((key) => key.endsWith("/original"))).toHaveLength(1);
  });

  it.each([
    ["bytes that are not an image", () => htmlBytes(), "image/png", /data: the bytes are not an image of an allowed type/],
    ["a JPEG declared as PNG", () => solid(50, 50, "jpeg"), "image/png", /content_type: the bytes are image\/jpeg, not image\/png/],
  ])("refuses %s, keeping neither a row nor an object", async (_case, bytes, contentType, message) => {
    const error = await rpcError(upload(await bytes(), { contentType }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(message);
    expect(await rows()).toBe(0);
    expect(await storedObjects()).toEqual([]);
  });

  it("refuses a file over the purpose's limit, naming the limit", async () => {
    const error = await rpcError(upload(Buffer.alloc(10 * MIB + 1, 0x89), { purpose: FilePurpose.AVATAR }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("data: the file is larger than the 10485760-byte limit for avatars");
    expect(await rows()).toBe(0);
  });
});

describe("UploadFileStream", () => {
  it("with size_bytes, stores the original while it arrives and refuses other lengths, keeping nothing", async () => {
    const png = await solid(300, 200, "png");
    const { file } = await h.asService().uploadFileStream(stream(png, { sizeBytes: BigInt(png.length) }));
    expect(file?.sizeBytes).toBe(BigInt(png.length));

    const other = await solid(301, 200, "png");
    const error = await rpcError(h.asService().uploadFileStream(stream(other, { sizeBytes: BigInt(other.length + 1) })));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(`data: the stream carried ${other.length} bytes, not the ${other.length + 1} of size_bytes`);
    expect(await rows()).toBe(1);
    expect((await storedObjects()).filter((key) => key.endsWith("/original"))).toEqual([`files/${file!.id}/original`]);
  });

  it("requires the metadata first", async () => {
    async function* chunkFirst(): AsyncIterable<Omit<UploadFileStreamRequest, "$typeName">> {
      yield { payload: { case: "chunk", value: new Uint8Array([1, 2, 3]) } };
    }
    const error = await rpcError(h.asService().uploadFileStream(chunkFirst()));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/the first message must carry metadata/);
  });
});
