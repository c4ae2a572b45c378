// What an uploader does with a presigned upload, and bytes to upload.
import { createHash, randomBytes } from "node:crypto";
import type { PresignedUpload } from "../../gen/file/v1/file_service_pb.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** `size` bytes that start like a PNG, random after that (unique per call). */
export function pngLikeBytes(size: number): Buffer {
  const bytes = randomBytes(size);
  PNG_SIGNATURE.copy(bytes, 0, 0, Math.min(size, PNG_SIGNATURE.length));
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
