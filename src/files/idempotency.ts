// Idempotent creation: a create call (GenerateUploadURLs, UploadFile,
// UploadFileStream) may carry an idempotency key; the same owner and key
// within the window name the files the first call made, so a client retrying a
// call whose answer it lost creates nothing new. The key is bound to what the
// call asked (a fingerprint): the same key with another request is refused.
import { createHash } from "node:crypto";
import type { FileRepository } from "../domain/file-repository.js";
import { FileError } from "../domain/errors.js";

const MAX_KEY_LENGTH = 128;

/** Hex SHA-256 of a request's canonical JSON (keys in the order the caller's code builds them). */
export function fingerprintOf(request: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(request, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? createHash("sha256").update(v).digest("hex") : v)))
    .digest("hex");
}

/** The key as given, or undefined when empty; too long is the caller's error. */
export function parseIdempotencyKey(key: string, field: string): string | undefined {
  if (key === "") return undefined;
  if (key.length > MAX_KEY_LENGTH) throw new FileError("invalid_argument", `${field}: must be at most ${MAX_KEY_LENGTH} characters`);
  return key;
}

/**
 * The ids (in the call's order) the first call with this key made, or
 * undefined when there was none within the window (an older use frees the key).
 */
export async function earlierCall(
  files: Pick<FileRepository, "findByIdempotencyKey" | "releaseIdempotencyKey">,
  call: { ownerId: string; key: string; fingerprint: string; now: Date; windowSeconds: number },
): Promise<string[] | undefined> {
  const found = await files.findByIdempotencyKey(call.ownerId, call.key);
  if (found.length === 0) return undefined;
  const cutoff = new Date(call.now.getTime() - call.windowSeconds * 1000);
  if (found.every((f) => f.createdAt < cutoff)) {
    await files.releaseIdempotencyKey(call.ownerId, call.key, cutoff);
    return undefined;
  }
  if (found.some((f) => f.fingerprint !== call.fingerprint)) {
    throw new FileError("invalid_argument", `idempotency_key: "${call.key}" was used for another request; use a new key for a new request`);
  }
  return found.map((f) => f.id);
}
