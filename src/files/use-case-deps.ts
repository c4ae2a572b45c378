// What the use cases in this folder are given: the repository and the store,
// the upload rules and URL lifetimes, image settings, this process's worker.
import type { FileRecord } from "../domain/file.js";
import type { FileRepository } from "../domain/file-repository.js";
import { FileError } from "../domain/errors.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { ImageSettings } from "../processing/make-variants.js";
import type { RetryPolicy } from "../processing/run-job.js";
import type { Logger } from "../observability/logger.js";
import type { UploadLimits } from "./upload-rules.js";
import type { Scanner } from "../scanning/scanner.js";

export interface FileServiceSettings extends UploadLimits {
  uploadUrlTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  /** A pending file expires this long after its upload URL did. */
  uploadExpiryGraceSeconds: number;
  /** How long an idempotency key names the files its first call made. */
  idempotencyWindowSeconds: number;
  /** UPLOAD_TMP_DIR: where uploads through the service wait while they arrive. */
  uploadTmpDir: string;
  /** Serve files whose malware scan has not concluded (pending, error): fail open. Off by default. */
  serveUnscanned?: boolean;
  /**
   * How long after a failed write the store may still complete it (a request
   * it got after the service gave up on it): the purge of an abandoned upload
   * waits this long, so it removes what lands late. Default 0.
   */
  storeSettleMs?: number;
}

export interface UseCaseDeps {
  files: FileRepository;
  objects: ObjectStore;
  settings: FileServiceSettings;
  images: ImageSettings;
  retry: RetryPolicy;
  /** This process's processing worker. */
  processing: { workerId: string; leaseMs: number; notify(): void };
  log: Logger;
  now: () => Date;
  /** With a scanner, nothing is served or made of a file before its bytes are scanned. */
  scanner?: Scanner;
  onScanned?: (verdict: "clean" | "infected" | "error") => void;
  /** Told the bytes of files that became uploaded (for metrics). */
  onUploaded?: (bytes: number) => void;
}

type Reads = Pick<FileRepository, "findByIds">;

/** The owner's records for `ids`, keyed by id. */
export async function recordsById(source: Reads, ownerId: string, ids: readonly string[]): Promise<Map<string, FileRecord>> {
  const records = await source.findByIds(ownerId, ids);
  return new Map(records.map((r) => [r.id, r]));
}

/** The owner's record, or not_found: foreign and missing look the same, so no caller learns another owner's file exists. */
export async function ownedFile(source: Reads, ownerId: string, fileId: string): Promise<FileRecord> {
  const record = (await recordsById(source, ownerId, [fileId])).get(fileId);
  if (record === undefined) throw new FileError("not_found", `file ${fileId} not found`);
  return record;
}

/** Everything stored for a file: the original and its variants. */
export function objectKeysOf(record: FileRecord): string[] {
  return [record.objectKey, ...record.variants.map((v) => v.objectKey)];
}
