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
import { createHash, randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { DependencyUnavailableError } from "../../domain/errors.js";
import type {
  ObjectInfo,
  ObjectStore,
  PresignedRequest,
  PresignGetInput,
  PresignPutInput,
  PutObjectInput,
} from "../object-store.js";
import {
  createUrlSigner,
  EXPIRES_PARAM,
  RESPONSE_DISPOSITION_PARAM,
  RESPONSE_TYPE_PARAM,
  SIGNATURE_PARAM,
  type SignedRequest,
  type UrlSigner,
} from "./url-signer.js";

/** Where the public listener serves objects; presigned URLs are `<publicUrl>/objects/<key>?...`. */
export const OBJECTS_PATH = "/objects/";

export interface LocalObjectStoreOptions {
  dir: string;
  /** Origin (and optional path) clients reach the public listener at. */
  publicUrl: string;
  /** HMAC key of the presigned URLs, at least 32 bytes. */
  secret: Uint8Array | string;
}

/** A refusal, with the HTTP status and S3-style code it maps to. */
export interface ObjectError {
  ok: false;
  status: 400 | 403 | 404 | 409 | 411 | 413 | 416;
  code: string;
  message: string;
  headers: Record<string, string>;
}

export interface UploadRequest {
  /** The raw request target (path and query, still percent-encoded): `req.raw.url`. */
  target: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Readable;
}

export interface DownloadRequest {
  target: string;
  range?: string | undefined;
  /** HEAD: the same answer without a body. */
  headOnly?: boolean;
}

export type UploadResult = { ok: true; etag: string } | ObjectError;
export type DownloadResult =
  | { ok: true; status: 200 | 206; headers: Record<string, string>; body: Readable | null }
  | ObjectError;

export interface LocalObjectStore extends ObjectStore {
  /** Checks and stores a presigned upload; nothing is stored unless it is accepted. */
  acceptUpload(request: UploadRequest): Promise<UploadResult>;
  /** Checks a presigned download and opens the object (or the requested range). */
  openDownload(request: DownloadRequest): Promise<DownloadResult>;
}

// Segments are file names: a conservative set, never ".", "..", empty, or
// holding a slash, backslash, NUL or "%" (so nothing decodes twice), and never
// starting with "." (the store's own files). 200 leaves room for the
// store's suffixes within the usual 255-byte name limit.
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const MAX_KEY_LENGTH = 1024;
const MD5_BASE64 = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const TEMP_NAME = /^\..+\.[0-9a-f]{16}\.tmp$/;
// The query parameters that declare a presigned PUT's signed header values.
const DECLARED_PARAM: Readonly<Record<string, string>> = {
  "content-type": "X-Content-Type",
  "content-length": "X-Content-Length",
  "content-md5": "X-Content-MD5",
};
const HEADER_NAME: Readonly<Record<string, string>> = {
  "content-type": "Content-Type",
  "content-length": "Content-Length",
  "content-md5": "Content-MD5",
};

// Read size of put()'s file bodies.
const CHUNK_BYTES = 64 * 1024;
// Leftovers of a crash; an upload in flight writes to its temp file far more often than this.
const STALE_TEMP_MS = 60 * 60 * 1000;
// Codes meaning "a path component is a file where a folder should be, or the reverse".
const PATH_CONFLICT = new Set(["ENOTDIR", "EISDIR", "EEXIST"]);

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

  const presign = (method: SignedRequest["method"], key: string, expiresInSeconds: number, fields: Record<string, string>, extra: Record<string, string>) => {
    assertKey(key);
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds <= 0) {
      throw new Error("expiresInSeconds must be a positive integer");
    }
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const query = new URLSearchParams(extra);
    query.set(EXPIRES_PARAM, String(expires));
    query.set(SIGNATURE_PARAM, signer.sign({ method, key, expires, fields }));
    return { url: `${base}${OBJECTS_PATH}${encodeKey(key)}?${query}`, expiresAt: new Date(expires * 1000) };
  };

  /** The key and query of a presigned request, or why it is refused. */
  const authorize = (
    method: SignedRequest["method"],
    target: string,
    fields: (query: URLSearchParams) => Record<string, string>,
  ): { ok: true; key: string; query: URLSearchParams } | ObjectError => {
    const parsed = parseTarget(target);
    if (parsed === null) return refuse(400, "InvalidURI", "Could not parse the specified URI.");
    const { key, query } = parsed;
    const expires = query.get(EXPIRES_PARAM);
    const signature = query.get(SIGNATURE_PARAM);
    if (expires === null || signature === null || !/^\d{1,12}$/.test(expires)) {
      return refuse(403, "AccessDenied", "Query-string authentication requires a valid signature and expiry.");
    }
    switch (signer.verify({ method, key, expires: Number(expires), fields: fields(query) }, signature)) {
      case "valid":
        return { ok: true, key, query };
      case "expired":
        return refuse(403, "AccessDenied", "Request has expired");
      case "invalid":
        return refuse(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    }
  };

  /**
   * Why a PUT's headers do not match its URL, naming each header that differs,
   * when the URL itself is intact (its signature holds for the values it
   * declares); undefined when the URL was changed or declares nothing.
   */
  const explainHeaderMismatch = (target: string, sent: Record<string, string>): ObjectError | undefined => {
    const parsed = parseTarget(target);
    if (parsed === null) return undefined;
    const { key, query } = parsed;
    const declared: Record<string, string> = {};
    for (const [name, param] of Object.entries(DECLARED_PARAM)) {
      const value = query.get(param);
      if (value === null) return undefined; // a URL from before values were declared
      declared[name] = value;
    }
    const expires = Number(query.get(EXPIRES_PARAM));
    switch (signer.verify({ method: "PUT", key, expires, fields: declared }, query.get(SIGNATURE_PARAM) ?? "")) {
      case "invalid":
        return undefined;
      case "expired":
        return refuse(403, "AccessDenied", "Request has expired");
      case "valid": {
        const problems = Object.entries(declared)
          .filter(([name, value]) => sent[name] !== value)
          .map(([name, value]) =>
            sent[name] === "" ? `${HEADER_NAME[name]} is missing (this URL needs ${value})` : `${HEADER_NAME[name]} is ${sent[name]}, but this URL was signed for ${value}`,
          );
        return refuse(
          403,
          "SignatureDoesNotMatch",
          `The request signature we calculated does not match the signature you provided: ${problems.join("; ")}. Send exactly the headers the upload URL was issued with.`,
        );
      }
    }
  };

  return {
    async put(input: PutObjectInput): Promise<void> {
      assertKey(input.key);
      const { body, contentLength } = input;
      if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
        throw new Error("contentLength must be a non-negative integer");
      }
      let source: FileHandle | undefined;
      let readError: unknown;
      let chunks: Iterable<Buffer> | AsyncIterable<Buffer>;
      if (Buffer.isBuffer(body)) {
        if (body.length !== contentLength) {
          throw new Error(`put: the body holds ${body.length} bytes, not contentLength ${contentLength}`);
        }
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
      if (!MD5_BASE64.test(input.contentMd5)) throw new Error("contentMd5 must be the base64 of a 16-byte MD5");
      const headers = {
        "Content-Type": input.contentType,
        "Content-Length": String(input.contentLength),
        "Content-MD5": input.contentMd5,
      };
      const fields = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
      // The signed values ride in the URL too (the uploader knows them anyway):
      // a refused upload can then say which header differs.
      const declared = Object.fromEntries(Object.entries(fields).map(([name, value]) => [DECLARED_PARAM[name]!, value]));
      return { ...presign("PUT", input.key, input.expiresInSeconds, fields, declared), headers };
    },

    async presignGet(input: PresignGetInput): Promise<PresignedRequest> {
      const response = {
        [RESPONSE_DISPOSITION_PARAM]: input.contentDisposition,
        [RESPONSE_TYPE_PARAM]: input.contentType,
      };
      return { ...presign("GET", input.key, input.expiresInSeconds, response, response), headers: {} };
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

    async acceptUpload({ target, headers, body }: UploadRequest): Promise<UploadResult> {
      const contentLength = header(headers, "content-length");
      if (contentLength === "") {
        return refuse(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
      }
      const signed = {
        "content-type": header(headers, "content-type"),
        "content-length": contentLength,
        "content-md5": header(headers, "content-md5"),
      };
      const auth = authorize("PUT", target, () => signed);
      if (!auth.ok) return auth.code === "SignatureDoesNotMatch" ? (explainHeaderMismatch(target, signed) ?? auth) : auth;
      // destroyOnReturn: false leaves a refused body to Node, which discards it
      // after the response instead of resetting the connection.
      const chunks = body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>;
      return writeObject(pathOf(auth.key), root, chunks, Number(contentLength), signed["content-md5"]);
    },

    async openDownload({ target, range, headOnly = false }: DownloadRequest): Promise<DownloadResult> {
      const auth = authorize("GET", target, (query) => ({
        [RESPONSE_DISPOSITION_PARAM]: query.get(RESPONSE_DISPOSITION_PARAM) ?? "",
        [RESPONSE_TYPE_PARAM]: query.get(RESPONSE_TYPE_PARAM) ?? "",
      }));
      if (!auth.ok) return auth;
      const opened = await openObject(pathOf(auth.key));
      if (opened === null) return refuse(404, "NoSuchKey", "The specified key does not exist.");
      let handOver = false;
      try {
        const size = Number(opened.stats.size);
        const span = parseRange(range, size);
        if (span === "unsatisfiable") {
          return refuse(416, "InvalidRange", "The requested range is not satisfiable", { "Content-Range": `bytes */${size}` });
        }
        const disposition = auth.query.get(RESPONSE_DISPOSITION_PARAM) ?? "";
        const headers: Record<string, string> = {
          "Content-Type": auth.query.get(RESPONSE_TYPE_PARAM) || "application/octet-stream",
          ...(disposition === "" ? {} : { "Content-Disposition": disposition }),
          "Content-Length": String(span === null ? size : span.end - span.start + 1),
          ...(span === null ? {} : { "Content-Range": `bytes ${span.start}-${span.end}/${size}` }),
          "Accept-Ranges": "bytes",
          ETag: `"${Buffer.from(await digestOf(opened), "base64").toString("hex")}"`,
          "Last-Modified": opened.stats.mtime.toUTCString(),
        };
        // Read through the handle opened above, so a concurrent overwrite cannot mix two objects' bytes.
        const body = headOnly
          ? null
          : opened.handle.createReadStream(span === null ? {} : { start: span.start, end: span.end });
        handOver = body !== null;
        return { ok: true, status: span === null ? 200 : 206, headers, body };
      } catch (error) {
        throw unavailable(error);
      } finally {
        if (!handOver) await opened.handle.close().catch(() => undefined);
      }
    },
  };
}

// --- keys and URLs ---------------------------------------------------------

export function isValidKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && key.split("/").every((segment) => SEGMENT.test(segment));
}

function assertKey(key: string): void {
  if (!isValidKey(key)) throw new Error(`invalid object key ${JSON.stringify(key)}`);
}

function assertRange(range: { start: number; end: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new Error(`invalid range ${start}-${end}`);
  }
}

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/** The key (each segment decoded exactly once, then checked) and query of a raw request target. */
function parseTarget(target: string): { key: string; query: URLSearchParams } | null {
  const mark = target.indexOf("?");
  const path = mark === -1 ? target : target.slice(0, mark);
  if (!path.startsWith(OBJECTS_PATH)) return null;
  const segments: string[] = [];
  for (const raw of path.slice(OBJECTS_PATH.length).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null; // malformed escape
    }
    if (!SEGMENT.test(segment)) return null;
    segments.push(segment);
  }
  const key = segments.join("/");
  if (key.length > MAX_KEY_LENGTH) return null;
  return { key, query: new URLSearchParams(mark === -1 ? "" : target.slice(mark + 1)) };
}

function publicBase(publicUrl: string): string {
  const url = new URL(publicUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("publicUrl must be an http(s) URL");
  if (url.search !== "" || url.hash !== "") throw new Error("publicUrl must not have a query or fragment");
  return url.href.replace(/\/+$/, "");
}

/** A single `bytes=` range; null serves the whole object (no, malformed or multiple ranges, as S3 does). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "") {
    if (last === "") return null;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

function header(headers: UploadRequest["headers"], name: string): string {
  const value = headers[name];
  return typeof value === "string" ? value : "";
}

function refuse(status: ObjectError["status"], code: string, message: string, headers: Record<string, string> = {}): ObjectError {
  return { ok: false, status, code, message, headers };
}

// --- stored objects --------------------------------------------------------

interface OpenedObject {
  file: string;
  handle: FileHandle;
  stats: BigIntStats;
}

/** The object's file opened for reading, or null when there is none. */
async function openObject(file: string): Promise<OpenedObject | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return null;
    throw unavailable(error);
  }
  try {
    const stats = await handle.stat({ bigint: true });
    if (stats.isFile()) return { file, handle, stats };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw unavailable(error);
  }
  await handle.close().catch(() => undefined);
  return null; // a folder: a prefix of other keys, not an object
}

interface Meta {
  md5: string;
  size: string;
  ino: string;
  mtimeNs: string;
}

const metaPathOf = (file: string): string => join(dirname(file), `.${basename(file)}.meta`);

const metaFor = (md5: string, stats: BigIntStats): Meta => ({
  md5,
  size: String(stats.size),
  ino: String(stats.ino),
  mtimeNs: String(stats.mtimeNs),
});

/**
 * The base64 MD5 of the opened object: the sidecar's when it describes this
 * very file (same inode, size and mtime; a rename keeps them), otherwise
 * computed from the bytes — after a crash between the rename and the sidecar
 * write, or when two uploads of one key raced.
 */
async function digestOf({ file, handle, stats }: OpenedObject): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(metaPathOf(file), "utf8")) as Partial<Meta>;
    const expected = metaFor(meta.md5 ?? "", stats);
    if (
      typeof meta.md5 === "string" &&
      MD5_BASE64.test(meta.md5) &&
      meta.size === expected.size &&
      meta.ino === expected.ino &&
      meta.mtimeNs === expected.mtimeNs
    ) {
      return meta.md5;
    }
  } catch {
    // missing or unreadable: the bytes are the truth
  }
  const hash = createHash("md5");
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (let position = 0; ; ) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return hash.digest("base64");
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/**
 * Streams the body into a temp file next to the object while hashing and
 * counting; only a body of exactly the signed length and MD5 is renamed into
 * place. Every other outcome removes the temp file (and folders it created).
 */
async function writeObject(
  file: string,
  root: string,
  body: Iterable<Buffer | string> | AsyncIterable<Buffer | string>,
  expectedSize: number,
  /** A function for a body whose digest is known only once it has ended. */
  expectedMd5: string | (() => string),
): Promise<UploadResult> {
  const dir = dirname(file);
  const temp = tempPathFor(file);
  let committed = false;
  let handle: FileHandle | undefined;
  try {
    handle = await createTemp(dir, temp);
    const hash = createHash("md5");
    let size = 0;
    try {
      for await (const chunk of body) {
        const bytes: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        size += bytes.length;
        if (size > expectedSize) {
          return refuse(413, "EntityTooLarge", "Your proposed upload exceeds the signed Content-Length.");
        }
        hash.update(bytes);
        await writeFully(handle, bytes).catch((error: unknown) => {
          throw unavailable(error);
        });
      }
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error;
      // The body failed: the client aborted or the connection dropped.
      return refuse(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
    if (size !== expectedSize) {
      return refuse(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
    const md5 = hash.digest("base64");
    if (md5 !== (typeof expectedMd5 === "string" ? expectedMd5 : expectedMd5())) {
      return refuse(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
    }
    await handle.sync();
    const stats = await handle.stat({ bigint: true });
    await handle.close();
    handle = undefined;
    await rename(temp, file);
    committed = true;
    await syncDir(dir);
    // After the commit, and only a cache: on failure head() computes the digest from the bytes.
    await writeAtomically(metaPathOf(file), JSON.stringify(metaFor(md5, stats))).catch(() => undefined);
    return { ok: true, etag: `"${Buffer.from(md5, "base64").toString("hex")}"` };
  } catch (error) {
    if (PATH_CONFLICT.has(errorCode(error) ?? "")) {
      return refuse(409, "KeyConflict", "The key conflicts with an existing object or key prefix.");
    }
    throw unavailable(error);
  } finally {
    await handle?.close().catch(() => undefined);
    if (!committed) {
      await removeIfPresent(temp).catch(() => undefined);
      await pruneEmptyDirs(dir, root);
    }
  }
}

/** The caller's file opened for reading, checked to hold exactly `contentLength` bytes. */
async function openSourceFile(path: string, contentLength: number): Promise<FileHandle> {
  const handle = await open(path, "r");
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size !== contentLength) {
      throw new Error(`put: ${path} holds ${stats.size} bytes, not contentLength ${contentLength}`);
    }
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** The file's bytes in fresh chunks; a read failure is reported to `onError` before it is thrown. */
async function* readChunks(handle: FileHandle, onError: (error: unknown) => void): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, 0, buffer.length, position));
    } catch (error) {
      onError(error);
      throw error;
    }
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** The stream's chunks as Buffers (no copy); its failure is reported to `onError` before it is thrown. */
async function* streamChunks(stream: AsyncIterable<Uint8Array>, onError: (error: unknown) => void): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  } catch (error) {
    onError(error);
    throw error;
  }
}

const tempPathFor = (file: string): string =>
  join(dirname(file), `.${basename(file)}.${randomBytes(8).toString("hex")}.tmp`);

/** Creates the folder and the temp file; retried when a concurrent delete prunes the fresh folder in between. */
async function createTemp(dir: string, temp: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dir, { recursive: true });
    try {
      return await open(temp, "wx", 0o600);
    } catch (error) {
      if (errorCode(error) !== "ENOENT" || attempt === 3) throw error;
    }
  }
}

async function writeFully(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = tempPathFor(file);
  try {
    await writeFile(temp, text, { flag: "wx", mode: 0o600, flush: true });
    await rename(temp, file);
  } catch (error) {
    await removeIfPresent(temp).catch(() => undefined);
    throw error;
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    const code = errorCode(error);
    // Missing, or a folder (a key prefix, not an object): nothing to remove.
    if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "EISDIR") throw error;
  }
}

/** Removes `dir` and its parents up to `root` while they are empty, so deleted keys leave no folders. */
async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  for (let current = dir; current.startsWith(root + sep); current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty (or gone): its parents are not empty either
    }
  }
}

/** Removes temp files a crash left behind; a store must still start when this fails. */
async function removeStaleTemps(root: string): Promise<void> {
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const entry of entries) {
      if (!entry.isFile() || !TEMP_NAME.test(entry.name)) continue;
      const file = join(entry.parentPath, entry.name);
      const stats = await stat(file).catch(() => null);
      if (stats !== null && stats.mtimeMs < cutoff) await removeIfPresent(file).catch(() => undefined);
    }
  } catch {
    // ping() reports an unusable folder
  }
}

// --- errors ----------------------------------------------------------------

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function unavailable(cause: unknown): DependencyUnavailableError {
  return cause instanceof DependencyUnavailableError ? cause : new DependencyUnavailableError("object store", cause);
}
