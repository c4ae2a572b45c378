// The intake of bytes that pass through the service, on its own: counted and
// hashed on the way to a temp file, refused the moment a rule breaks, and
// handed on to a sink only once their type was checked.
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { receiveUpload } from "../../src/files/upload-intake.js";
import { FileError } from "../../src/domain/errors.js";
import { htmlBytes, solid } from "../support/images.js";
import { chunksOf } from "../support/upload.js";

const rules = { maxBytes: 1024 * 1024, limitDescription: "the 1048576-byte limit for tests", declaredType: "image/png", tmpDir: tmpdir() };

describe("receiveUpload", () => {
  it("writes the bytes to a temp file with their size, SHA-256 and MD5, and discards it", async () => {
    const png = await solid(300, 300, "png");
    const received = await receiveUpload(chunksOf(png, 1000), rules);
    expect(received.size).toBe(png.length);
    expect(received.sha256).toBe(createHash("sha256").update(png).digest("hex"));
    expect(received.md5).toBe(createHash("md5").update(png).digest("base64"));
    expect(await readFile(received.path)).toEqual(png);
    await received.discard();
    await expect(stat(received.path)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("hands the sink nothing before the type is checked, then every byte in order", async () => {
    const png = await solid(300, 300, "png");
    const seen: Buffer[] = [];
    const received = await receiveUpload(chunksOf(png, 100), rules, { write: async (chunk) => void seen.push(Buffer.from(chunk)) });
    expect(Buffer.concat(seen)).toEqual(png);
    await received.discard();

    const refusedSink: Buffer[] = [];
    const refusal = await receiveUpload(chunksOf(htmlBytes(), 100), rules, { write: async (c) => void refusedSink.push(Buffer.from(c)) }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(FileError);
    expect((refusal as FileError).reason).toBe("invalid_argument");
    expect(refusedSink).toEqual([]);
  });

  it("refuses the moment the stream passes the limit or the declared size, without reading on", async () => {
    const png = await solid(300, 300, "png");
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i === 0 ? png : new Uint8Array(64 * 1024);
      }
    }
    const tooBig = await receiveUpload(counted(), rules).catch((e: unknown) => e);
    expect((tooBig as Error).message).toBe("data: the file is larger than the 1048576-byte limit for tests");
    expect(pulled).toBeLessThan(20);

    const declared = await receiveUpload(chunksOf(png, 1000), { ...rules, declaredSize: png.length - 1 }).catch((e: unknown) => e);
    expect((declared as Error).message).toBe(`data: the stream carries more than the ${png.length - 1} bytes of size_bytes`);
  });

  it("refuses an empty upload", async () => {
    const empty = await receiveUpload(chunksOf(new Uint8Array(0), 10), rules).catch((e: unknown) => e);
    expect((empty as Error).message).toBe("data: the file is empty");
  });
});
