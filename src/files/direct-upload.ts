// Uploads whose bytes pass through the service (UploadFile, UploadFileStream):
// receive → dedup by content hash → check (or process) the image → store →
// record. Nothing is kept of a refused upload, and concurrent identical uploads
// of one owner end with one file (the loser removes what it stored).
import { Code, ConnectError } from "@connectrpc/connect";
import type { FilePurpose, FileRecord, FileRepository, ProcessingResult } from "../db/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import { ImageRejectedError } from "../media/image-processor.js";
import { makeVariants, type ImageSettings } from "../processing/make-variants.js";
import { inspectImage } from "../processing/inspect-image.js";
import { newFileId, objectKeyFor } from "./file-ids.js";
import { receiveUpload } from "./upload-intake.js";
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
}

export async function storeDirectUpload(
  upload: DirectUpload,
  chunks: AsyncIterable<Uint8Array>,
  deps: DirectUploadDeps,
): Promise<FileRecord> {
  const { files, objects } = deps;
  const maxBytes = sizeLimitFor(upload.purpose, deps.limits);
  const received = await receiveUpload(chunks, {
    maxBytes,
    limitDescription: `the ${maxBytes}-byte limit for ${describePurpose(upload.purpose)}`,
    declaredType: upload.contentType,
  });
  const stored: string[] = [];
  try {
    const existing = await files.findByContentHash(upload.ownerId, received.sha256);
    if (existing !== undefined) return existing;

    const id = newFileId();
    let result: ProcessingResult | undefined;
    if (upload.async) {
      await inspectImage(received.path, deps.images.maxPixels);
    } else {
      result = await makeVariants(
        { fileId: id, purpose: upload.purpose, source: { path: received.path }, sha256: received.sha256, webpQuality: upload.webpQuality },
        objects,
        deps.images,
      );
      stored.push(...result.variants.map((v) => v.objectKey));
    }
    const objectKey = objectKeyFor(id);
    stored.push(objectKey);
    await objects.put({
      key: objectKey,
      body: { path: received.path },
      contentType: upload.contentType,
      contentLength: received.size,
      md5: received.md5,
    });

    const at = deps.now();
    const insert = await files.insertUploaded({
      id,
      ownerId: upload.ownerId,
      filename: upload.filename,
      contentType: upload.contentType,
      sizeBytes: received.size,
      md5: received.md5,
      objectKey,
      createdAt: at,
      uploadedAt: at,
      purpose: upload.purpose,
      sha256: received.sha256,
      processing: {
        webpQuality: upload.webpQuality,
        claim: result === undefined ? undefined : { workerId: deps.processing.workerId, leaseMs: deps.processing.leaseMs },
      },
    });
    if (!insert.inserted) {
      // Someone uploaded the same bytes at the same moment and won.
      await objects.delete(stored);
      return insert.existing;
    }
    stored.length = 0; // from here on the objects belong to the recorded file
    deps.onUploaded?.(received.size);
    if (result === undefined) deps.processing.notify();
    else await files.completeProcessing(id, deps.processing.workerId, result, deps.now());
    const [record] = await files.findByIds(upload.ownerId, [id]);
    return record!;
  } catch (e) {
    if (stored.length > 0) await objects.delete(stored).catch(() => {});
    if (e instanceof ImageRejectedError) throw new ConnectError(`data: ${e.message}`, Code.InvalidArgument);
    throw e;
  } finally {
    await received.discard();
  }
}
