// Bytes that pass through the service (UploadFile, UploadFileStream) go to a
// temp file as they arrive, hashed and counted on the way, so a 20 MiB upload
// never sits in memory whole and eight at once stay cheap. The upload is
// refused the moment it breaks a rule: past the size limit (or the size the
// caller declared), or first bytes that are not the declared image type.
// A sink may take the bytes on as they arrive (e.g. to the object store), but
// only once they passed the type check.
import { uploadTmpPath } from "./upload-tmp-dir.js";
import { createHash } from "node:crypto";
import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import { FileError } from "../domain/errors.js";
import { SNIFF_BYTES, sniffImageType } from "../media/image-types.js";

export interface IntakeRules {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** For messages: "the 10485760-byte limit for profile pictures". */
  limitDescription: string;
  /** The type the caller declared (already validated against the filename). */
  declaredType: string;
  /** The size the caller declared, if any: more or fewer bytes are refused. */
  declaredSize?: number;
  /** The folder the bytes wait in (UPLOAD_TMP_DIR; see upload-tmp-dir.ts). */
  tmpDir: string;
}

/** Where the bytes also go as they arrive, once their type was checked. */
export interface IntakeSink {
  /** Takes the next chunk; the intake waits for it (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
}

export interface ReceivedFile {
  /** A temp file holding the bytes; call discard() when done. */
  path: string;
  size: number;
  sha256: string;
  /** Base64, as Content-MD5. */
  md5: string;
  discard(): Promise<void>;
}

export async function receiveUpload(
  chunks: AsyncIterable<Uint8Array>,
  rules: IntakeRules,
  sink?: IntakeSink,
): Promise<ReceivedFile> {
  // Made at start; made again if someone removed it since (one cheap syscall).
  await mkdir(rules.tmpDir, { recursive: true, mode: 0o700 });
  const path = uploadTmpPath(rules.tmpDir);
  const discard = () => rm(path, { force: true });
  let file: FileHandle | undefined;
  try {
    file = await open(path, "wx", 0o600);
    const writer = new BatchedWriter(file);
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    let size = 0;
    let head: Buffer | undefined = Buffer.alloc(0);
    // Chunks held back from the sink until the type is checked.
    let unchecked: Uint8Array[] = [];
    const { declaredSize } = rules;
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      size += chunk.length;
      if (size > rules.maxBytes) {
        throw new FileError("invalid_argument", `data: the file is larger than ${rules.limitDescription}`);
      }
      if (declaredSize !== undefined && size > declaredSize) {
        throw new FileError("invalid_argument", `data: the stream carries more than the ${declaredSize} bytes of size_bytes`);
      }
      if (head !== undefined) {
        head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
        if (head.length >= SNIFF_BYTES) {
          await checkType(head, rules.declaredType);
          head = undefined;
        }
      }
      sha256.update(chunk);
      md5.update(chunk);
      await writer.write(chunk);
      if (sink !== undefined) {
        if (head === undefined) {
          await sendAll(sink, unchecked);
          unchecked = [];
          await sink.write(chunk);
        } else {
          unchecked.push(chunk);
        }
      }
    }
    if (size === 0) throw new FileError("invalid_argument", "data: the file is empty");
    if (head !== undefined) await checkType(head, rules.declaredType);
    if (declaredSize !== undefined && size !== declaredSize) {
      throw new FileError("invalid_argument", `data: the stream carried ${size} bytes, not the ${declaredSize} of size_bytes`);
    }
    if (sink !== undefined) await sendAll(sink, unchecked);
    await writer.flush();
    await file.close();
    file = undefined;
    return { path, size, sha256: sha256.digest("hex"), md5: md5.digest("base64"), discard };
  } catch (e) {
    await file?.close().catch(() => {});
    await discard();
    throw e;
  }
}

// Chunks arrive in tens of KiB; one write per chunk costs a trip to the
// thread pool each. Batches of about this size, one written while the next
// one gathers.
const WRITE_BATCH_BYTES = 1024 * 1024;

class BatchedWriter {
  readonly #file: FileHandle;
  #batch: Uint8Array[] = [];
  #batched = 0;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /** Takes the chunk (which must not change afterwards); waits only for the batch before the current one. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#batch.push(chunk);
    this.#batched += chunk.length;
    if (this.#batched >= WRITE_BATCH_BYTES) await this.#startBatch();
  }

  /** Writes what is left and waits for every write. */
  async flush(): Promise<void> {
    await this.#startBatch();
    await this.#inFlight;
  }

  async #startBatch(): Promise<void> {
    await this.#inFlight;
    if (this.#batched === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#batched = 0;
    this.#inFlight = writeAll(this.#file, batch);
    // Awaited by the next batch or flush(); not unhandled meanwhile.
    this.#inFlight.catch(() => undefined);
  }
}

async function writeAll(file: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let { bytesWritten } = await file.writev(chunks);
  // A short write (rare for files): the rest one chunk at a time.
  for (const chunk of chunks) {
    if (bytesWritten >= chunk.length) {
      bytesWritten -= chunk.length;
      continue;
    }
    for (let offset = bytesWritten; offset < chunk.length; ) {
      offset += (await file.write(chunk, offset, chunk.length - offset)).bytesWritten;
    }
    bytesWritten = 0;
  }
}

async function sendAll(sink: IntakeSink, chunks: readonly Uint8Array[]): Promise<void> {
  for (const chunk of chunks) await sink.write(chunk);
}

/**
 * Chunks from one producer to one consumer, holding at most about
 * `highWaterMark` bytes: push() waits while the consumer is behind. Read once.
 * When the consumer stops early (its for-await ends or throws, or it is known
 * never to read: abandon()), later pushes are dropped: the producer may carry
 * on and use its own copy of the bytes.
 */
export class ChunkChannel implements AsyncIterable<Uint8Array> {
  readonly #highWaterMark: number;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #consumerGone = false;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;

  constructor(highWaterMark: number) {
    this.#highWaterMark = highWaterMark;
  }

  /** Queues a chunk; resolves once fewer than highWaterMark bytes wait (at once when the consumer is gone). */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#consumerGone || this.#ended || this.#failure !== undefined) return;
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.#wake("consumer");
    while (this.#queued >= this.#highWaterMark && !this.#consumerGone && this.#failure === undefined) {
      await new Promise<void>((resolve) => (this.#wakeProducer = resolve));
    }
  }

  /** No more chunks: the consumer ends after the queued ones. */
  end(): void {
    this.#ended = true;
    this.#wake("consumer");
  }

  /** The consumer will not read (any more), e.g. it failed before it began: pushes stop waiting. */
  abandon(): void {
    this.#consumerGone = true;
    this.#queue = [];
    this.#queued = 0;
    this.#wake("producer");
  }

  /** The consumer throws `error` (queued chunks are dropped). */
  fail(error: unknown): void {
    if (this.#ended || this.#failure !== undefined) return;
    this.#failure = { error };
    this.#queue = [];
    this.#queued = 0;
    this.#wake("consumer");
    this.#wake("producer");
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.#failure !== undefined) throw this.#failure.error;
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          this.#queued -= chunk.length;
          if (this.#queued < this.#highWaterMark) this.#wake("producer");
          yield chunk;
        } else if (this.#ended) {
          return;
        } else {
          await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
        }
      }
    } finally {
      this.abandon();
    }
  }

  #wake(who: "consumer" | "producer"): void {
    const wake = who === "consumer" ? this.#wakeConsumer : this.#wakeProducer;
    if (who === "consumer") this.#wakeConsumer = undefined;
    else this.#wakeProducer = undefined;
    wake?.();
  }
}

/** The type is decided by the bytes: the declared type must be what they are. */
async function checkType(head: Uint8Array, declaredType: string): Promise<void> {
  const actual = await sniffImageType(head);
  if (actual === undefined) {
    throw new FileError("invalid_argument", "data: the bytes are not an image of an allowed type (JPEG, PNG, GIF or WebP)");
  }
  if (actual !== declaredType) {
    throw new FileError("invalid_argument", `content_type: the bytes are ${actual}, not ${declaredType}`);
  }
}
