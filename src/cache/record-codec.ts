// A file record as the cache stores it: JSON, format-versioned, Dates as epoch
// milliseconds, so a cached record round-trips exactly, and anything else
// (another format, a record cached before a field existed, a corrupt value) is
// a miss, never a malformed FileRecord. The schema is checked against
// FileRecord at compile time: adding or retyping a field fails to compile here
// until the cache handles it. Bump FORMAT when a field's meaning changes
// without its type changing.
import { z } from "zod";
import { FILE_PURPOSES, FILE_STATUSES, PROCESSING_STATUSES, SCAN_STATUSES, type FileRecord } from "../domain/file.js";

const FORMAT = 2;

const epochMs = z.number().refine(Number.isFinite).transform((ms) => new Date(ms));

const variant = z.object({
  name: z.string(),
  width: z.number(),
  height: z.number(),
  contentType: z.string(),
  sizeBytes: z.number(),
  objectKey: z.string(),
});

const record = z.object({
  id: z.string(),
  ownerId: z.string(),
  filename: z.string(),
  contentType: z.string(),
  sizeBytes: z.number(),
  md5: z.string(),
  status: z.enum(FILE_STATUSES),
  objectKey: z.string(),
  createdAt: epochMs,
  uploadedAt: epochMs.nullable(),
  deletedAt: epochMs.nullable(),
  purpose: z.enum(FILE_PURPOSES),
  sha256: z.string().nullable(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  blurhash: z.string().nullable(),
  processingStatus: z.enum(PROCESSING_STATUSES),
  processingError: z.string().nullable(),
  scanStatus: z.enum(SCAN_STATUSES),
  scanSignature: z.string().nullable(),
  scanError: z.string().nullable(),
  scannedAt: epochMs.nullable(),
  uploadExpiresAt: epochMs.nullable(),
  variants: z.array(variant),
});

// Both ways: the decoded shape is exactly a FileRecord.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type CodecMatchesFileRecord = Exactly<z.output<typeof record>, FileRecord> extends true ? true : never;
const matches: CodecMatchesFileRecord = true;
void matches;

const stored = z.object({ v: z.literal(FORMAT), r: record });

/** The JSON stored for a record. */
export function encodeRecord(value: FileRecord): string {
  const r = {
    ...value,
    createdAt: value.createdAt.getTime(),
    uploadedAt: value.uploadedAt?.getTime() ?? null,
    deletedAt: value.deletedAt?.getTime() ?? null,
    scannedAt: value.scannedAt?.getTime() ?? null,
    uploadExpiresAt: value.uploadExpiresAt?.getTime() ?? null,
  };
  return JSON.stringify({ v: FORMAT, r });
}

/** The record in `json`, or undefined when it is absent, of another format, or malformed. */
export function decodeRecord(json: string | null): FileRecord | undefined {
  if (json === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const result = stored.safeParse(parsed);
  return result.success ? result.data.r : undefined;
}
