// The domain's nouns: what a file is, what is made of it, and the work queued
// for it. Every layer speaks them; persistence stores them (db/), the API maps
// them to the contract's messages (files/file-message.ts). The closed sets are
// listed once, here: the schemas' enums and the cache's codec read them.

// expired: never confirmed within its upload window (plus grace); quarantined: a
// malware scan found something; missing: reconciliation found its bytes gone.
export const FILE_STATUSES = ["pending", "uploaded", "deleted", "expired", "quarantined", "missing"] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export const FILE_PURPOSES = [
  "unspecified",
  "profile_picture",
  "cover_photo",
  "post_attachment",
  "message_attachment",
  "story",
  "avatar",
] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

export const PROCESSING_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
export type ProcessingStatus = (typeof PROCESSING_STATUSES)[number];

/** not_scanned: no scanner configured (or the file predates it); error: a permanent scan failure. */
export const SCAN_STATUSES = ["not_scanned", "pending", "clean", "infected", "error"] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export interface VariantRecord {
  /** "thumb", "medium", "large". */
  name: string;
  width: number;
  height: number;
  contentType: string;
  sizeBytes: number;
  objectKey: string;
}

export interface FileRecord {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  /** Base64 of the 16-byte MD5, as HTTP Content-MD5 carries it. */
  md5: string;
  status: FileStatus;
  objectKey: string;
  createdAt: Date;
  uploadedAt: Date | null;
  deletedAt: Date | null;
  purpose: FilePurpose;
  /** Hex SHA-256 of the content, once known. */
  sha256: string | null;
  /** Of the original, upright. */
  width: number | null;
  height: number | null;
  blurhash: string | null;
  processingStatus: ProcessingStatus;
  processingError: string | null;
  scanStatus: ScanStatus;
  /** The malware signature found, when infected. */
  scanSignature: string | null;
  /** Why the file could not be scanned, when the scan status is error. */
  scanError: string | null;
  scannedAt: Date | null;
  /** For a pending file: when its upload URL expires (stored, so a changed setting never moves it). */
  uploadExpiresAt: Date | null;
  /** In a stable order (by name). */
  variants: VariantRecord[];
}

/** A file reserved for a presigned upload: pending, processing pending but not due until confirmed. */
export type NewFileRecord = Pick<
  FileRecord,
  "id" | "ownerId" | "filename" | "contentType" | "sizeBytes" | "md5" | "objectKey" | "createdAt" | "purpose"
> & {
  /** When its upload URL expires (presigned uploads). */
  uploadExpiresAt?: Date | null;
  /** When the file expires unless it is uploaded first: stored, so a later change of settings never moves it. */
  expireDueAt?: Date | null;
  /** The create call's idempotency key, this file's place in the call, and the call's fingerprint. */
  idempotency?: Idempotency;
};

export interface Idempotency {
  key: string;
  seq: number;
  /** Hex SHA-256 of what the call asked for: the same key with another request is refused. */
  fingerprint: string;
}

/** A claim on a file's processing: only `workerId` may complete or fail it, until `leaseMs` passes. */
export interface ProcessingClaim {
  workerId: string;
  leaseMs: number;
}

export interface ProcessingRequest {
  /** WebP quality for the variants; null for the default. */
  webpQuality: number | null;
  /** Claim the job for this worker right away (synchronous processing); otherwise any worker may. */
  claim?: ProcessingClaim;
}

/** A file whose bytes are already stored (uploads through the service). */
export interface NewUploadedFile extends NewFileRecord {
  sha256: string;
  uploadedAt: Date;
  processing: ProcessingRequest;
  /** The malware scan's verdict, when a scanner judged the bytes before they were recorded. */
  scan?: ScanResult;
}

/** A scan's conclusion about one file. */
export type ScanResult =
  | { status: "clean"; at: Date }
  | { status: "infected"; signature: string; at: Date }
  | { status: "error"; reason: string; at: Date };

export interface ProcessingResult {
  sha256: string;
  width: number;
  height: number;
  blurhash: string;
  variants: VariantRecord[];
}

export interface ProcessingJob {
  fileId: string;
  ownerId: string;
  objectKey: string;
  contentType: string;
  purpose: FilePurpose;
  webpQuality: number | null;
  /** Claims so far, this one included. */
  attempts: number;
  sizeBytes: number;
  /** "pending": the bytes must be scanned before anything is made of them. */
  scanStatus: ScanStatus;
}

export interface ListFilesQuery {
  ownerId: string;
  /** Statuses to include. */
  statuses: readonly FileStatus[];
  /** Keyset cursor: only ids strictly below this one (newest first). */
  beforeId?: string;
  limit: number;
}
