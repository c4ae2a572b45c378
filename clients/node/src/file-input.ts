// What the caller hands us (a path or bytes) → what the contract asks for
// (filename, content type, size, base64 MD5) and a body that can be read again
// for a retry. Paths are read as streams, never held whole.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { FilePurpose } from "./contract.js";

export type UploadInput =
  | string
  | { path: string; filename?: string; contentType?: string; purpose?: FilePurpose }
  | { data: Uint8Array; filename: string; contentType?: string; purpose?: FilePurpose };

/** Bytes that can be read from the start as often as needed (once per attempt). */
export interface BodySource {
  size: number;
  open(): AsyncIterable<Uint8Array>;
}

export interface PreparedFile {
  /** The path, or the filename for bytes: how reports name the file. */
  name: string;
  filename: string;
  contentType: string;
  purpose: FilePurpose;
  sizeBytes: number;
  md5: string;
  body: BodySource;
}

const CHUNK_BYTES = 64 * 1024;

// The types the contract accepts, by extension; anything else is sent as
// application/octet-stream and the service names the rule it breaks.
const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".gif": "image/gif",
  ".webp": "image/webp",
};

export function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[extname(filename).toLowerCase()] ?? "application/octet-stream";
}

export function isImageFilename(filename: string): boolean {
  return extname(filename).toLowerCase() in CONTENT_TYPES;
}

export function bodyOfPath(path: string, size: number): BodySource {
  return { size, open: () => createReadStream(path, { highWaterMark: CHUNK_BYTES }) };
}

export function bodyOfBytes(data: Uint8Array): BodySource {
  return {
    size: data.length,
    async *open() {
      for (let at = 0; at < data.length; at += CHUNK_BYTES) yield data.subarray(at, at + CHUNK_BYTES);
    },
  };
}

export async function prepareFile(input: UploadInput, purpose: FilePurpose = FilePurpose.UNSPECIFIED): Promise<PreparedFile> {
  const spec = typeof input === "string" ? { path: input } : input;
  const body = "data" in spec ? bodyOfBytes(spec.data) : bodyOfPath(spec.path, (await stat(spec.path)).size);
  const filename = spec.filename ?? ("path" in spec ? basename(spec.path) : "");
  return {
    name: "path" in spec ? spec.path : filename,
    filename,
    contentType: spec.contentType ?? contentTypeFor(filename),
    purpose: spec.purpose ?? purpose,
    sizeBytes: body.size,
    md5: await md5Base64(body),
    body,
  };
}

/** Base64 of the 16-byte MD5, as HTTP Content-MD5 and the contract's `md5` carry it. */
export async function md5Base64(body: BodySource): Promise<string> {
  const hash = createHash("md5");
  for await (const chunk of body.open()) hash.update(chunk);
  return hash.digest("base64");
}
