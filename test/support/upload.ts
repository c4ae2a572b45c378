// What an uploader does with a presigned upload, and bytes to upload.
import { createHash, randomBytes } from "node:crypto";
import type { PresignedUpload } from "../../gen/file/v1/file_service_pb.js";
import { blackPng } from "./images.js";

const TINY_PNG = blackPng(2, 2);

/**
 * A real PNG of at least `size` bytes (exactly `size` when that is larger than
 * a 2x2 PNG), made unique per call by random bytes after its end, which
 * decoders ignore.
 */
export function pngLikeBytes(size: number): Buffer {
  return Buffer.concat([TINY_PNG, randomBytes(Math.max(1, size - TINY_PNG.length))]);
}

/** `size` bytes that start like a JPEG (SOI + APP0), random after that. */
export function jpegLikeBytes(size: number): Buffer {
  const bytes = randomBytes(size);
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]).copy(bytes);
  return bytes;
}

export function md5Base64(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("base64");
}

/** PUTs `body` with the signed headers, as a browser or backend would. */
export async function putUpload(
  upload: PresignedUpload,
  body: Uint8Array,
  options: { omitHeaders?: string[] } = {},
): Promise<Response> {
  const headers = Object.fromEntries(
    Object.entries(upload.headers).filter(([name]) => !(options.omitHeaders ?? []).includes(name.toLowerCase())),
  );
  return fetch(upload.url, { method: upload.method, headers, body });
}

export function fileSpec(bytes: Uint8Array, filename = "photo.png", contentType = "image/png") {
  return { filename, contentType, sizeBytes: BigInt(bytes.length), md5: md5Base64(bytes) };
}

/** `bytes` in chunks of `size`; throws `failAfter.error` once that many chunks were yielded, instead of ending. */
export async function* chunksOf(bytes: Uint8Array, size: number, failAfter?: { chunks: number; error: Error }): AsyncGenerator<Uint8Array> {
  let yielded = 0;
  for (let i = 0; i < bytes.length; i += size) {
    if (failAfter !== undefined && yielded === failAfter.chunks) throw failAfter.error;
    yield bytes.subarray(i, i + size);
    yielded++;
  }
  if (failAfter !== undefined) throw failAfter.error;
}

/** An ObjectStore put of a PNG whose body is a stream (the MD5 known only once it has ended). */
export const streamInput = (key: string, stream: AsyncIterable<Uint8Array>, length: number, md5: () => string) => ({
  key,
  body: { stream },
  contentType: "image/png",
  contentLength: length,
  md5,
});
