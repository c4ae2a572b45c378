// The rules a file must pass before we hand out an upload URL for it. Each
// violation names the field and the rule, so the caller can fix its request.
import { extensionOf, sanitizeFilename } from "./filename.js";
import { describePurpose, sizeLimitFor, type SizeLimits } from "./purposes.js";
import type { FilePurpose } from "../domain/file.js";
import { isBase64Md5 } from "../storage/input-checks.js";

export interface UploadLimits extends SizeLimits {
  maxFilesPerBatch: number;
}

/** Allowed image types and the extensions that may carry each. */
const EXTENSIONS_BY_TYPE: ReadonlyMap<string, readonly string[]> = new Map([
  ["image/jpeg", [".jpg", ".jpeg"]],
  ["image/png", [".png"]],
  ["image/gif", [".gif"]],
  ["image/webp", [".webp"]],
]);
const ALLOWED_EXTENSIONS = [...EXTENSIONS_BY_TYPE.values()].flat();

export interface FileToUploadInput {
  filename: string;
  contentType: string;
  sizeBytes: bigint;
  md5: string;
}

export interface ValidFileToUpload {
  filename: string;
  contentType: string;
  sizeBytes: number;
  md5: string;
}

export interface ValidFileName {
  filename: string;
  contentType: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; violations: string[] };

export function checkBatchSize(count: number, limits: UploadLimits): string | undefined {
  if (count === 0) return "files: at least one file is required";
  if (count > limits.maxFilesPerBatch) {
    return `files: at most ${limits.maxFilesPerBatch} files per batch (got ${count})`;
  }
  return undefined;
}

/** The name and declared type rules, shared by presigned and direct uploads. */
export function checkNameAndType(filename: string, declaredType: string, field: string): Checked<ValidFileName> {
  const violations: string[] = [];
  const name = sanitizeFilename(filename);
  const contentType = declaredType.trim().toLowerCase();
  const ext = extensionOf(name);
  const typeExtensions = EXTENSIONS_BY_TYPE.get(contentType);
  if (name === "") {
    violations.push(`${field}filename: is required (a name like "photo.jpg")`);
  } else if (!ALLOWED_EXTENSIONS.includes(ext)) {
    violations.push(
      `${field}filename: extension ${JSON.stringify(ext || "(none)")} is not allowed (allowed: ${ALLOWED_EXTENSIONS.join(" ")})`,
    );
  }
  if (typeExtensions === undefined) {
    violations.push(
      `${field}content_type: ${JSON.stringify(declaredType)} is not allowed (allowed: ${[...EXTENSIONS_BY_TYPE.keys()].join(", ")})`,
    );
  } else if (ALLOWED_EXTENSIONS.includes(ext) && !typeExtensions.includes(ext)) {
    violations.push(
      `${field}content_type: ${contentType} does not match the filename extension ${ext} (use ${typeExtensions.join(" or ")})`,
    );
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, value: { filename: name, contentType } };
}

/** "size_bytes: must be from 1 to N bytes" for the purpose's limit, or undefined when it fits. */
export function checkSize(size: bigint | number, purpose: FilePurpose, limits: SizeLimits, field: string): string | undefined {
  const max = sizeLimitFor(purpose, limits);
  if (BigInt(size) >= 1n && BigInt(size) <= BigInt(max)) return undefined;
  return `${field}: must be from 1 to ${max} bytes for ${describePurpose(purpose)} (got ${size})`;
}

export function checkFileToUpload(
  file: FileToUploadInput,
  field: string,
  purpose: FilePurpose,
  limits: UploadLimits,
): Checked<ValidFileToUpload> {
  const named = checkNameAndType(file.filename, file.contentType, `${field}.`);
  const violations = named.ok ? [] : [...named.violations];
  const sizeProblem = checkSize(file.sizeBytes, purpose, limits, `${field}.size_bytes`);
  if (sizeProblem !== undefined) violations.push(sizeProblem);
  if (!isBase64Md5(file.md5)) {
    violations.push(`${field}.md5: must be the base64 of a 16-byte MD5 digest (24 characters, as in Content-MD5)`);
  }
  if (!named.ok || violations.length > 0) return { ok: false, violations };
  return { ok: true, value: { ...named.value, sizeBytes: Number(file.sizeBytes), md5: file.md5 } };
}
