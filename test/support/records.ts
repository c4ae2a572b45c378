// File records as tests build them: new ones as the use cases hand them to a
// repository, full ones with every field set, and processing results.
import { createHash, randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import type { FileRecord, NewFileRecord, NewUploadedFile, ProcessingResult, VariantRecord } from "../../src/domain/file.js";

// Each test uses its own owner, so tests sharing the database cannot see each other.
export const newOwner = () => `owner-${randomUUID()}`;

export function newRecord(ownerId: string, overrides: Partial<NewFileRecord> = {}): NewFileRecord {
  const id = overrides.id ?? uuidv7();
  return {
    id,
    ownerId,
    filename: "report.pdf",
    contentType: "application/pdf",
    sizeBytes: 1234,
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    objectKey: `${ownerId}/${id}`,
    createdAt: new Date("2025-01-02T03:04:05.678Z"),
    purpose: "unspecified",
    ...overrides,
  };
}

/** What a new record reads back as before anything processed it (status aside). */
export const unprocessed = {
  sha256: null,
  width: null,
  height: null,
  blurhash: null,
  processingStatus: "pending",
  processingError: null,
  scanStatus: "not_scanned",
  scanSignature: null,
  scanError: null,
  scannedAt: null,
  uploadExpiresAt: null,
  variants: [],
} as const;

/** A hex SHA-256, distinct per seed. */
export const sha256Of = (seed: string) => createHash("sha256").update(seed).digest("hex");

export function newUploaded(ownerId: string, overrides: Partial<NewUploadedFile> = {}): NewUploadedFile {
  return {
    ...newRecord(ownerId, { contentType: "image/jpeg", filename: "photo.jpg", purpose: "post_attachment" }),
    sha256: sha256Of(randomUUID()),
    uploadedAt: new Date("2025-05-06T07:08:09.010Z"),
    processing: { webpQuality: null },
    ...overrides,
  };
}

export function newVariant(fileId: string, name: string, width: number): VariantRecord {
  return {
    name,
    width,
    height: Math.round(width * 0.75),
    contentType: "image/webp",
    sizeBytes: width * 37,
    objectKey: `variants/${fileId}/${name}-${width}.webp`,
  };
}

export function newResult(fileId: string, sha256: string, variants: readonly [string, number][]): ProcessingResult {
  return {
    sha256,
    width: 4032,
    height: 3024,
    blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    variants: variants.map(([name, width]) => newVariant(fileId, name, width)),
  };
}

/** Records with strictly increasing ids, as UUIDv7 generation gives them. */
export function newRecords(ownerId: string, count: number): NewFileRecord[] {
  return Array.from({ length: count }, () => newRecord(ownerId)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export const idsOf = (records: readonly { id: string }[]) => records.map((r) => r.id);

/** Every field set, Dates with milliseconds, variants included. */
export function fullRecord(ownerId: string, overrides: Partial<FileRecord> = {}): FileRecord {
  const id = overrides.id ?? uuidv7();
  return {
    id,
    ownerId,
    filename: "Ünïcode \"quoted\" photo.jpg",
    contentType: "image/jpeg",
    sizeBytes: 9_007_199_254_740_991,
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    status: "uploaded",
    objectKey: `${ownerId}/${id}`,
    createdAt: new Date("2025-01-02T03:04:05.678Z"),
    uploadedAt: new Date("2025-01-02T03:04:06.001Z"),
    deletedAt: null,
    purpose: "cover_photo",
    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    width: 4032,
    height: 3024,
    blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    processingStatus: "completed",
    processingError: null,
    scanStatus: "not_scanned",
    scanSignature: null,
    scanError: null,
    scannedAt: null,
    uploadExpiresAt: null,
    variants: [
      { name: "large", width: 1600, height: 1200, contentType: "image/webp", sizeBytes: 210_000, objectKey: `${ownerId}/${id}/large.webp` },
      { name: "medium", width: 800, height: 600, contentType: "image/webp", sizeBytes: 61_000, objectKey: `${ownerId}/${id}/medium.webp` },
      { name: "thumb", width: 200, height: 150, contentType: "image/webp", sizeBytes: 7_000, objectKey: `${ownerId}/${id}/thumb.webp` },
    ],
    ...overrides,
  };
}

/** A new record as the repository contract suite makes them, for a post attachment. */
export function newFile(ownerId: string, overrides: Partial<NewFileRecord> = {}): NewFileRecord {
  return newRecord(ownerId, { purpose: "post_attachment", ...overrides });
}
