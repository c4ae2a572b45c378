// Objects as files on local disk, durably: the toolkit of the local store.
// An upload is streamed into a temp file beside its object while it is hashed
// and counted, fsynced, and renamed into place only when it holds exactly the
// signed length and MD5; the folder is fsynced after the rename. Each object's
// MD5 is cached in a sidecar `.<name>.meta`, trusted only while it describes
// the very file (inode, size, mtime). What a crash leaves (temp files) is
// removed at the next start.
import { createHash, randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { DependencyUnavailableError } from "../../domain/errors.js";
import { refuse, type ObjectRefusal } from "./object-refusal.js";
import { isBase64Md5 } from "../input-checks.js";

const TEMP_NAME = /^\..+\.[0-9a-f]{16}\.tmp$/;
// Read size of put()'s file bodies.
const CHUNK_BYTES = 64 * 1024;
// Leftovers of a crash; an upload in flight writes to its temp file far more often than this.
const STALE_TEMP_MS = 60 * 60 * 1000;
// Codes meaning "a path component is a file where a folder should be, or the reverse".
const PATH_CONFLICT = new Set(["ENOTDIR", "EISDIR", "EEXIST"]);


/** Stored with this MD5 (base64), or refused with nothing stored. */
export type WriteResult = { ok: true; md5: string } | ObjectRefusal;

export interface OpenedObject {
  file: string;
  handle: FileHandle;
  stats: BigIntStats;
}

/** The object's file opened for reading, or null when there is none. */
export async function openObject(file: string): Promise<OpenedObject | null> {
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

export const metaPathOf = (file: string): string => join(dirname(file), `.${basename(file)}.meta`);

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
export async function digestOf({ file, handle, stats }: OpenedObject): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(metaPathOf(file), "utf8")) as Partial<Meta>;
    const expected = metaFor(meta.md5 ?? "", stats);
    if (
      typeof meta.md5 === "string" &&
      isBase64Md5(meta.md5) &&
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
export async function writeObject(
  file: string,
  root: string,
  body: Iterable<Buffer | string> | AsyncIterable<Buffer | string>,
  expectedSize: number,
  /** A function for a body whose digest is known only once it has ended. */
  expectedMd5: string | (() => string),
): Promise<WriteResult> {
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
          return refuse("EntityTooLarge", "Your proposed upload exceeds the signed Content-Length.");
        }
        hash.update(bytes);
        await writeFully(handle, bytes).catch((error: unknown) => {
          throw unavailable(error);
        });
      }
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error;
      // The body failed: the client aborted or the connection dropped.
      return refuse("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
    if (size !== expectedSize) {
      return refuse("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
    const md5 = hash.digest("base64");
    if (md5 !== (typeof expectedMd5 === "string" ? expectedMd5 : expectedMd5())) {
      return refuse("BadDigest", "The Content-MD5 you specified did not match what we received.");
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
    return { ok: true, md5 };
  } catch (error) {
    if (PATH_CONFLICT.has(errorCode(error) ?? "")) {
      return refuse("KeyConflict", "The key conflicts with an existing object or key prefix.");
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

/** The file's bytes in fresh chunks; a read failure is reported to `onError` before it is thrown. */
export async function* readChunks(handle: FileHandle, onError: (error: unknown) => void): AsyncGenerator<Buffer> {
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
export async function* streamChunks(stream: AsyncIterable<Uint8Array>, onError: (error: unknown) => void): AsyncGenerator<Buffer> {
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

export async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    const code = errorCode(error);
    // Missing, or a folder (a key prefix, not an object): nothing to remove.
    if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "EISDIR") throw error;
  }
}

/** Removes `dir` and its parents up to `root` while they are empty, so deleted keys leave no folders. */
export async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  for (let current = dir; current.startsWith(root + sep); current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty (or gone): its parents are not empty either
    }
  }
}

/** Removes temp files a crash left behind; a store must still start when this fails. */
export async function removeStaleTemps(root: string): Promise<void> {
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

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function unavailable(cause: unknown): DependencyUnavailableError {
  return cause instanceof DependencyUnavailableError ? cause : new DependencyUnavailableError("object store", cause);
}
