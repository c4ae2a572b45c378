// Uploads whose bytes pass through the service (UploadFile, UploadFileStream):
// receive → dedup by content hash → check (or process) the image → store →
// record. Nothing is kept of a refused upload, and concurrent identical uploads
// of one owner end with one file (the loser removes what it stored).
//
// When the caller declared the size (UploadFileStream's size_bytes), the
// original is stored while it arrives: a PUT with a stream body starts once the
// first bytes passed the type check, so the upload costs one transfer's time,
// not two. That object is deleted again when the upload fails, is refused, or
// turns out to be a duplicate; when the early PUT itself fails, the bytes are
// stored from the temp file afterwards, as without a declared size.
import { setTimeout as sleep } from "node:timers/promises";
import { createReadStream } from "node:fs";
import { detached } from "../shared/call-signal.js";
import type { FilePurpose, FileRecord, ProcessingResult, ScanResult } from "../domain/file.js";
import type { Scanner } from "../scanning/scanner.js";
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import { DependencyUnavailableError, FileError, IdempotencyConflictError, ImageRejectedError } from "../domain/errors.js";
import { earlierCall } from "./idempotency.js";
import { makeVariants, type ImageSettings } from "../processing/make-variants.js";
import { inspectImage } from "../media/inspect-image.js";
import { newFileId } from "./file-ids.js";
import { objectKeyFor, variantKeyFor } from "../storage/object-keys.js";
import { VARIANT_NAMES } from "../media/variant-specs.js";
import { ChunkChannel, receiveUpload, type IntakeSink } from "./upload-intake.js";
import { describePurpose, sizeLimitFor, type SizeLimits } from "./purposes.js";

export interface DirectUploadDeps {
  files: FileRepository;
  objects: ObjectStore;
  limits: SizeLimits;
  images: ImageSettings;
  /** This process's worker: synchronous processing claims jobs in its name. */
  processing: { workerId: string; leaseMs: number; notify(): void };
  now: () => Date;
  onUploaded?: (bytes: number) => void;
  /** UPLOAD_TMP_DIR: where the bytes wait while they arrive. */
  uploadTmpDir: string;
  /** The intent row's window: it expires (its object purged) this long after the upload started, unless fulfilled. */
  /** settleMs: how long a failed store write may still land (see FileServiceSettings.storeSettleMs). */
  intent: { ttlSeconds: number; graceSeconds: number; settleMs: number };
  idempotencyWindowSeconds: number;
  /** Scans the bytes before the upload answers: an infected file is recorded quarantined. */
  scanner?: Scanner;
  onScanned?: (verdict: "clean" | "infected" | "error") => void;
}

export interface DirectUpload {
  ownerId: string;
  /** Sanitized, and agreeing with contentType. */
  filename: string;
  contentType: string;
  purpose: FilePurpose;
  webpQuality: number | null;
  /** Return before the variants are made. */
  async: boolean;
  /** The size the caller declared (UploadFileStream's size_bytes): the original is then stored as it arrives. */
  declaredSize?: number;
  /** The call's idempotency key and the fingerprint of what it asked. */
  idempotency?: { key: string; fingerprint: string };
}

// How often a synchronous upload looks again at a file another upload of the
// same bytes is processing (whenProcessed).
const PROCESSED_POLL_MS = 50;

// Bytes waiting between the stream and the early PUT, per upload: bounds memory
// when the object store is slower than the caller.
const EARLY_PUT_BUFFER_BYTES = 1024 * 1024;

/** The original, PUT while it arrives. */
interface EarlyPut {
  sink: IntakeSink;
  /** Whether the PUT was started at all (it starts with the first checked bytes). */
  started(): boolean;
  /** Ends the stream (the bytes were all accepted) and resolves with whether the object was stored. */
  finish(md5: string): Promise<boolean>;
  /** Stops the PUT (what it may have stored is the caller's to remove: see discard). */
  abort(reason: unknown): Promise<void>;
}

function startEarlyPut(objects: ObjectStore, key: string, contentType: string, contentLength: number): EarlyPut {
  const channel = new ChunkChannel(EARLY_PUT_BUFFER_BYTES);
  let md5: string | undefined;
  let put: Promise<boolean> | undefined;
  const begin = () =>
    objects
      .put({
        key,
        body: { stream: channel },
        contentType,
        contentLength,
        md5: () => {
          if (md5 === undefined) throw new Error("the stream's digest was asked for before it ended");
          return md5;
        },
      })
      // A failed early PUT is not the upload's failure: the temp file still holds the bytes.
      .then(
        () => true,
        () => false,
      )
      // The store may fail before it reads the stream at all: the intake must not wait for it.
      .finally(() => channel.abandon());
  return {
    sink: {
      write(chunk) {
        put ??= begin();
        return channel.push(chunk);
      },
    },
    started: () => put !== undefined,
    async finish(digest) {
      md5 = digest;
      channel.end();
      return (await put) ?? false;
    },
    async abort(reason) {
      channel.fail(reason);
      await put;
    },
  };
}

export async function storeDirectUpload(
  upload: DirectUpload,
  chunks: AsyncIterable<Uint8Array>,
  deps: DirectUploadDeps,
): Promise<FileRecord> {
  const { files, objects } = deps;
  const maxBytes = sizeLimitFor(upload.purpose, deps.limits);
  const limitDescription = `the ${maxBytes}-byte limit for ${describePurpose(upload.purpose)}`;
  const { declaredSize } = upload;
  if (declaredSize !== undefined && declaredSize > maxBytes) {
    throw new FileError("invalid_argument", `size_bytes: ${declaredSize} is larger than ${limitDescription}`);
  }
  const id = newFileId();
  const objectKey = objectKeyFor(id);
  // The intent first: a pending row names the object before a byte of it is
  // stored, so a crash at any point below leaves a row whose expiry removes
  // the object, never an object no row knows.
  const createdAt = deps.now();
  const call = upload.idempotency && { ownerId: upload.ownerId, ...upload.idempotency, now: createdAt, windowSeconds: deps.idempotencyWindowSeconds };
  if (call) {
    const earlier = await earlierCall(files, call);
    if (earlier) return earlierUpload(earlier[0]!, call.key, upload, deps);
  }
  const idempotency = upload.idempotency && { ...upload.idempotency, seq: 0 };
  const uploadExpiresAt = new Date(createdAt.getTime() + deps.intent.ttlSeconds * 1000);
  const intent = files.insertPending([
    {
      id,
      ownerId: upload.ownerId,
      filename: upload.filename,
      contentType: upload.contentType,
      sizeBytes: declaredSize ?? 0,
      md5: "",
      objectKey,
      createdAt,
      purpose: upload.purpose,
      uploadExpiresAt,
      expireDueAt: new Date(uploadExpiresAt.getTime() + deps.intent.graceSeconds * 1000),
      idempotency,
    },
  ]);
  try {
    await intent;
  } catch (e) {
    // A concurrent retry with the same key started first.
    if (!(e instanceof IdempotencyConflictError) || !call) throw e;
    const earlier = await earlierCall(files, call);
    if (!earlier) throw e;
    return earlierUpload(earlier[0]!, call.key, upload, deps);
  }
  /**
   * Removes what this upload stored, then ends its intent row: removed when the
   * objects are surely gone, else expired with their purge queued. After a
   * failure (`settled` false) a write the service gave up on may still land in
   * the store: the row is expired and purged once that could have happened.
   * Should the database refuse too, the row expires in its time and the purge
   * follows. Detached from the call: a caller who left still gets it done.
   */
  const discard = (keys: readonly string[], { settled = true, midway = false, storeDown = false } = {}) =>
    detached(async () => {
      // Midway (a failure while making variants): some may be stored, unlisted.
      const all = midway ? [...new Set([...keys, ...VARIANT_NAMES.map((name) => variantKeyFor(id, name))])] : keys;
      // A store that just failed is left to the purge task rather than waited on again.
      let gone = all.length === 0 || (!storeDown && (await objects.delete(all).then((failed) => failed.length === 0, () => false)));
      if (!settled && all.length > 0) gone = false;
      const purgeAt = new Date(deps.now().getTime() + deps.intent.settleMs);
      await files.abandonIntent(upload.ownerId, id, gone, purgeAt).catch(() => undefined);
    });
  /**
   * discard() after failure `e`: a store that just failed is not asked again (the purge task
   * will be), and a database that just failed is not waited on again: the answer would wait
   * for its bound twice, so the clean-up finishes in the background (should the process die
   * first, the intent expires).
   */
  const discardAfter = async (e: unknown, keys: readonly string[], options: { settled: boolean; midway?: boolean }) => {
    const cleaning = discard(keys, { ...options, storeDown: failedOn(e, "object store") });
    if (!failedOn(e, "database")) await cleaning;
  };
  const early = declaredSize === undefined ? undefined : startEarlyPut(objects, objectKey, upload.contentType, declaredSize);
  let received;
  try {
    received = await receiveUpload(chunks, { maxBytes, limitDescription, declaredType: upload.contentType, declaredSize, tmpDir: deps.uploadTmpDir }, early?.sink);
  } catch (e) {
    // A put under way may have completed in the store just before its abort, or may still.
    const started = early?.started() ?? false;
    await early?.abort(e);
    await discardAfter(e, started ? [objectKey] : [], { settled: !started });
    throw e;
  }
  const stored: string[] = [];
  try {
    if (early?.started()) stored.push(objectKey);
    // The lookup runs while the PUT completes; the PUT is always waited for,
    // so nothing it stores can outlive a failure below.
    const lookup = files.findByContentHash(upload.ownerId, received.sha256);
    lookup.catch(() => undefined);
    const storedEarly = (await early?.finish(received.md5)) ?? false;
    const existing = await lookup;
    if (existing !== undefined) {
      // Stored before its hash was known: the same bytes already make a file.
      await discard(stored.splice(0));
      return await whenProcessed(existing, upload, deps);
    }

    // Scanned before anything is made of the bytes or the call answers (fail
    // closed: a scanner that cannot answer fails the upload as Unavailable).
    const scan = deps.scanner ? await scanReceived(deps.scanner, received.path, received.size, deps) : undefined;
    const infected = scan?.status === "infected";

    let result: ProcessingResult | undefined;
    if (infected) {
      // Nothing is made of it: recorded quarantined, its bytes moved away by the outbox.
    } else if (upload.async) {
      await inspectImage(received.path, deps.images.maxPixels);
    } else {
      result = await makeVariants(
        { fileId: id, purpose: upload.purpose, source: { path: received.path }, sha256: received.sha256, webpQuality: upload.webpQuality },
        objects,
        deps.images,
      );
      stored.push(...result.variants.map((v) => v.objectKey));
    }
    if (!storedEarly) {
      if (!stored.includes(objectKey)) stored.push(objectKey);
      await objects.put({
        key: objectKey,
        body: { path: received.path },
        contentType: upload.contentType,
        contentLength: received.size,
        md5: received.md5,
      });
    }

    const at = deps.now();
    const insert = await files.fulfilIntent({
      id,
      ownerId: upload.ownerId,
      filename: upload.filename,
      contentType: upload.contentType,
      sizeBytes: received.size,
      md5: received.md5,
      objectKey,
      createdAt,
      uploadedAt: at,
      purpose: upload.purpose,
      sha256: received.sha256,
      scan,
      idempotency,
      processing: {
        webpQuality: upload.webpQuality,
        claim: result === undefined ? undefined : { workerId: deps.processing.workerId, leaseMs: deps.processing.leaseMs },
      },
    });
    if (!insert.inserted) {
      // Someone uploaded the same bytes at the same moment and won.
      await discard(stored.splice(0));
      return await whenProcessed(insert.existing, upload, deps);
    }
    stored.length = 0; // from here on the objects belong to the recorded file
    deps.onUploaded?.(received.size);
    if (infected) {
      // Quarantined: no processing; the answer shows the state and the signature.
    } else if (result === undefined) deps.processing.notify();
    else await files.completeProcessing(id, deps.processing.workerId, result);
    const [record] = await files.findByIds(upload.ownerId, [id]);
    return record!;
  } catch (e) {
    await discardAfter(e, stored.splice(0), { settled: false, midway: true });
    // The field the caller sent, in front of what is wrong with it.
    if (e instanceof ImageRejectedError) throw new ImageRejectedError(e.reason, `data: ${e.message}`, { cause: e });
    throw e;
  } finally {
    await received.discard();
  }
}

/** What the first call with this key made: the file once it is recorded; while it still uploads, retry later. */
async function earlierUpload(id: string, key: string, upload: DirectUpload, deps: DirectUploadDeps): Promise<FileRecord> {
  const [record] = await deps.files.findByIds(upload.ownerId, [id]);
  if (record === undefined || record.status === "pending") {
    throw new FileError(
      "failed_precondition",
      `idempotency_key: "${key}" names an upload that has not finished (or was cut off): retry once it has, or use a new key`,
    );
  }
  return whenProcessed(record, upload, deps);
}

async function scanReceived(scanner: Scanner, path: string, size: number, deps: DirectUploadDeps): Promise<ScanResult> {
  const verdict = await scanner.scan(createReadStream(path), size);
  deps.onScanned?.(verdict.verdict);
  const at = deps.now();
  if (verdict.verdict === "infected") return { status: "infected", signature: verdict.signature, at };
  if (verdict.verdict === "error") return { status: "error", reason: verdict.reason, at };
  return { status: "clean", at };
}

/**
 * The same bytes of the same owner already make a file, which another upload
 * (a concurrent one) may be processing right now. A synchronous upload answers
 * once the variants are made, so it waits for that processing to end (at most
 * one processing lease) rather than answer without variants.
 */
async function whenProcessed(record: FileRecord, upload: DirectUpload, deps: DirectUploadDeps): Promise<FileRecord> {
  if (upload.async) return record;
  const deadline = Date.now() + deps.processing.leaseMs;
  let current = record;
  while (current.processingStatus === "processing" && Date.now() < deadline) {
    await sleep(PROCESSED_POLL_MS);
    const [latest] = await deps.files.findByIds(upload.ownerId, [record.id]);
    if (latest === undefined) break;
    current = latest;
  }
  return current;
}

/** Whether `error` is `dependency` failing (not the caller's input, not a bug). */
function failedOn(error: unknown, dependency: "database" | "object store"): boolean {
  return error instanceof DependencyUnavailableError && error.dependency === dependency;
}
