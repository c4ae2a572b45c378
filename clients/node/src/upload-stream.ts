// Bytes the backend holds (a file on its disk, a buffer, a stream it is
// receiving) sent through the service with UploadFileStream: metadata first,
// then chunks. The service hashes, checks and processes them, and answers with
// the file (its variants made, unless processing is asynchronous).
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  FilePurpose,
  UploadFileStreamRequestSchema,
  UploadMetadataSchema,
  type File,
  type FileService,
  type UploadFileStreamRequest,
} from "./contract.js";
import { bodyOfBytes, bodyOfPath, contentTypeFor } from "./file-input.js";

export interface UploadStreamOptions {
  /** Required for bytes and streams; a path's own name by default. */
  filename?: string;
  /** By the filename's extension unless given. */
  contentType?: string;
  purpose?: FilePurpose;
  /** Known for paths and bytes; declaring it lets the service store the bytes as they arrive. */
  sizeBytes?: number;
  /** Return before the variants are made (processing continues in the background). */
  async?: boolean;
  idempotencyKey?: string;
  /** Bytes handed to the transport so far. */
  onProgress?: (loaded: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export type StreamSource = string | Uint8Array | AsyncIterable<Uint8Array>;

export async function uploadStream(rpc: Client<typeof FileService>, ownerId: string, source: StreamSource, options: UploadStreamOptions = {}): Promise<File> {
  const { chunks, size, filename } = await openSource(source, options);
  if (filename === undefined || filename === "") throw new TypeError("uploadStream: give options.filename for bytes or a stream");
  const metadata = create(UploadMetadataSchema, {
    ownerId,
    filename,
    contentType: options.contentType ?? contentTypeFor(filename),
    purpose: options.purpose ?? FilePurpose.UNSPECIFIED,
    processing: { async: options.async ?? false },
    idempotencyKey: options.idempotencyKey ?? "",
    ...(size !== undefined ? { sizeBytes: BigInt(size) } : {}),
  });
  async function* messages(): AsyncGenerator<UploadFileStreamRequest> {
    yield create(UploadFileStreamRequestSchema, { payload: { case: "metadata", value: metadata } });
    let loaded = 0;
    for await (const chunk of chunks) {
      yield create(UploadFileStreamRequestSchema, { payload: { case: "chunk", value: chunk } });
      loaded += chunk.length;
      options.onProgress?.(loaded, size);
    }
  }
  const { file } = await rpc.uploadFileStream(messages(), options.signal ? { signal: options.signal } : {});
  return file!;
}

async function openSource(source: StreamSource, options: UploadStreamOptions) {
  if (typeof source === "string") {
    const size = options.sizeBytes ?? (await stat(source)).size;
    return { chunks: bodyOfPath(source, size).open(), size, filename: options.filename ?? basename(source) };
  }
  if (source instanceof Uint8Array) return { chunks: bodyOfBytes(source).open(), size: source.length, filename: options.filename };
  return { chunks: source, size: options.sizeBytes, filename: options.filename };
}
