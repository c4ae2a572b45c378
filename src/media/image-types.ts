// The image types the service accepts, decided by the bytes alone: never by the
// file name or the type a client declared.
import { fileTypeFromBuffer } from "file-type";

export const ALLOWED_IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"] as const;

export type AllowedImageType = (typeof ALLOWED_IMAGE_TYPES)[number];

/** How many leading bytes `sniffImageType` needs (file-type reads at most this many). */
export const SNIFF_BYTES = 4100;

/** file-type's answers that we accept, mapped to the type we record. */
const ACCEPTED: ReadonlyMap<string, AllowedImageType> = new Map([
  ["image/jpeg", "image/jpeg"],
  ["image/png", "image/png"],
  // An animated PNG is a valid PNG (its default image is what PNG decoders show).
  ["image/apng", "image/png"],
  ["image/gif", "image/gif"],
  ["image/webp", "image/webp"],
]);

export function isAllowedImageType(type: string): type is AllowedImageType {
  return (ALLOWED_IMAGE_TYPES as readonly string[]).includes(type);
}

/**
 * The allowed image type the content starts like, or undefined: HTML, text, SVG,
 * PDF, TIFF, AVIF, an empty head and anything else are refused. Only the first
 * SNIFF_BYTES bytes matter; pass at least that many when the file is longer.
 *
 * This checks magic numbers only: bytes that start like a JPEG may still fail to
 * decode. processImage is the check of the whole content.
 */
export async function sniffImageType(head: Uint8Array): Promise<AllowedImageType | undefined> {
  if (head.byteLength === 0) return undefined;
  const sample = head.byteLength > SNIFF_BYTES ? head.subarray(0, SNIFF_BYTES) : head;
  const detected = await fileTypeFromBuffer(sample);
  return detected === undefined ? undefined : ACCEPTED.get(detected.mime);
}
