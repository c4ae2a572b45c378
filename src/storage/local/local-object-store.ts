// ObjectStore on local disk, for the embedded mode. Presigned URLs point at the
// service's own public listener (/objects/...), and the store enforces what S3
// would: the signature and expiry, the signed Content-Type / Content-Length /
// Content-MD5 of uploads, and the signed response headers of downloads.
//
// Layout: the object `files/<id>/original` is the file <dir>/files/<id>/original.
// Key segments never start with ".", so names starting with "." belong to the
// store: `.<name>.meta` (the object's MD5, a cache validated against the file's
// identity) and `.<name>.<random>.tmp` (uploads in progress, renamed into place
// once checked).
//
// The jobs are split as tusd splits its store from serving content: the disk
// (disk-objects.ts), the URL format (object-urls.ts, url-signer.ts), presigned
// request handling (presigned-requests.ts), and this module, the store itself.
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type {
  ObjectInfo,
  ObjectStore,
  PresignedRequest,
  PresignGetInput,
  PresignPutInput,
  PutObjectInput,
} from "../object-store.js";
import {
  digestOf,
  errorCode,
  metaPathOf,
  openObject,
  pruneEmptyDirs,
  readChunks,
  removeIfPresent,
  removeStaleTemps,
  streamChunks,
  unavailable,
  writeObject,
} from "./disk-objects.js";
import { assertPutInput, assertRange, isBase64Md5, openSourceFile } from "../input-checks.js";
import { assertKey, DECLARED_PARAM, publicBase, signedUrl } from "./object-urls.js";
import { listObjects } from "./list-objects.js";
import { createPresignedRequests, type PresignedRequests } from "./presigned-requests.js";
import { createUrlSigner, RESPONSE_DISPOSITION_PARAM, RESPONSE_TYPE_PARAM } from "./url-signer.js";

export { isValidKey, OBJECTS_PATH } from "./object-urls.js";
export type { DownloadRequest, DownloadResult, UploadRequest, UploadResult } from "./presigned-requests.js";

export interface LocalObjectStoreOptions {
  dir: string;
  /** Origin (and optional path) clients reach the public listener at. */
  publicUrl: string;
  /** HMAC key of the presigned URLs, at least 32 bytes. */
  secret: Uint8Array | string;
}

/** The store, and the presigned requests it answers itself (served by transport/object-routes.ts). */
export interface LocalObjectStore extends ObjectStore, PresignedRequests {}

export async function createLocalObjectStore(options: LocalObjectStoreOptions): Promise<LocalObjectStore> {
  const root = resolve(options.dir);
  const signer = createUrlSigner(options.secret);
  const base = publicBase(options.publicUrl);
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw unavailable(error);
  }
  await removeStaleTemps(root);

  const pathOf = (key: string): string => {
    const file = join(root, ...key.split("/"));
    // Unreachable with checked keys; kept so a future change to the rules cannot escape the folder.
    if (!file.startsWith(root + sep)) throw new Error("object key escapes the data folder");
    return file;
  };

  const requests = createPresignedRequests({ signer, pathOf, root });

  return {
    ...requests,

    async put(input: PutObjectInput): Promise<void> {
      assertKey(input.key);
      assertPutInput(input);
      const { body, contentLength } = input;
      let source: FileHandle | undefined;
      let readError: unknown;
      let chunks: Iterable<Buffer> | AsyncIterable<Buffer>;
      if (Buffer.isBuffer(body)) {
        chunks = [body];
      } else if ("stream" in body) {
        // The caller's stream: its failure is the caller's error, thrown as it is.
        chunks = streamChunks(body.stream, (error) => (readError ??= error));
      } else {
        // The caller's file: failing to open or read it is the caller's error, thrown as it is.
        source = await openSourceFile(body.path, contentLength);
        chunks = readChunks(source, (error) => (readError ??= error));
      }
      try {
        // Copied (never renamed: the caller owns its file), through the very path uploads take.
        const result = await writeObject(pathOf(input.key), root, chunks, contentLength, input.md5);
        if (result.ok) return;
        if (readError !== undefined) throw readError;
        // A digest or length that differs from the bytes, or a key that clashes with another: a bug, not unavailability.
        throw new Error(`put ${input.key} refused: ${result.code}: ${result.message}`);
      } finally {
        await source?.close().catch(() => undefined);
      }
    },

    async get(key: string, range?: { start: number; end: number }): Promise<Buffer | null> {
      assertKey(key);
      if (range !== undefined) assertRange(range);
      const opened = await openObject(pathOf(key));
      if (opened === null) return null;
      try {
        const size = Number(opened.stats.size);
        const start = range?.start ?? 0;
        const end = Math.min(range?.end ?? size - 1, size - 1);
        if (start > end) return Buffer.alloc(0); // empty object, or a range starting past its end
        // Read through the handle opened above: a concurrent put renames another file into place.
        const buffer = Buffer.allocUnsafe(end - start + 1);
        let filled = 0;
        while (filled < buffer.length) {
          const { bytesRead } = await opened.handle.read(buffer, filled, buffer.length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } catch (error) {
        throw unavailable(error);
      } finally {
        await opened.handle.close().catch(() => undefined);
      }
    },

    async presignPut(input: PresignPutInput): Promise<PresignedRequest> {
      if (!Number.isSafeInteger(input.contentLength) || input.contentLength < 0) {
        throw new Error("contentLength must be a non-negative integer");
      }
      if (!isBase64Md5(input.contentMd5)) throw new Error("contentMd5 must be the base64 of a 16-byte MD5");
      const headers = {
        "Content-Type": input.contentType,
        "Content-Length": String(input.contentLength),
        "Content-MD5": input.contentMd5,
      };
      const fields = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
      // The signed values ride in the URL too (the uploader knows them anyway):
      // a refused upload can then say which header differs.
      const declared = Object.fromEntries(Object.entries(fields).map(([name, value]) => [DECLARED_PARAM[name]!, value]));
      return { ...signedUrl(signer, base, { method: "PUT", key: input.key, expiresInSeconds: input.expiresInSeconds, fields, extra: declared }), headers };
    },

    async presignGet(input: PresignGetInput): Promise<PresignedRequest> {
      const response = {
        [RESPONSE_DISPOSITION_PARAM]: input.contentDisposition,
        [RESPONSE_TYPE_PARAM]: input.contentType,
      };
      return { ...signedUrl(signer, base, { method: "GET", key: input.key, expiresInSeconds: input.expiresInSeconds, fields: response, extra: response }), headers: {} };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      assertKey(key);
      const opened = await openObject(pathOf(key));
      if (opened === null) return null;
      try {
        return { size: Number(opened.stats.size), md5: await digestOf(opened) };
      } catch (error) {
        throw unavailable(error);
      } finally {
        await opened.handle.close().catch(() => undefined);
      }
    },

    async delete(keys: readonly string[]): Promise<string[]> {
      keys.forEach(assertKey);
      const failed: string[] = [];
      for (const key of keys) {
        const file = pathOf(key);
        try {
          await removeIfPresent(file);
          await removeIfPresent(metaPathOf(file));
          await pruneEmptyDirs(dirname(file), root);
        } catch {
          failed.push(key); // retried by the caller; removal is idempotent
        }
      }
      return failed;
    },

    async move(fromKey: string, to: { key: string; bucket?: string }): Promise<boolean> {
      assertKey(fromKey);
      assertKey(to.key);
      if (to.bucket !== undefined) throw new Error("the local store has no buckets: move within it");
      const from = pathOf(fromKey);
      const target = pathOf(to.key);
      try {
        await mkdir(dirname(target), { recursive: true });
        // One rename: the object is in one place or the other, never both, never neither.
        await rename(from, target);
      } catch (error) {
        if (errorCode(error) === "ENOENT") {
          await pruneEmptyDirs(dirname(target), root);
          return false;
        }
        throw unavailable(error);
      }
      await rename(metaPathOf(from), metaPathOf(target)).catch(() => undefined); // a cache: recomputed when missing
      await pruneEmptyDirs(dirname(from), root);
      return true;
    },

    list: (input) => listObjects(root, input),

    async ping(): Promise<void> {
      const probe = join(root, `.ping.${randomBytes(8).toString("hex")}.tmp`);
      try {
        await (await open(probe, "wx")).close();
        await unlink(probe);
      } catch (error) {
        throw unavailable(error);
      }
    },

    close(): void {},
  };
}
