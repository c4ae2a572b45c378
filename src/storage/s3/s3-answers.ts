// Reading S3's answers, in one place: ETags, a missing key or range, what is
// worth another attempt, and the service's error for each failure (fixed
// messages: nothing of the request, credentials included, reaches callers);
// and each request's abort signal (the calling RPC's end, a bound of its own).
import { S3ServiceException } from "@aws-sdk/client-s3";
import { DependencyUnavailableError, type FileError } from "../../domain/errors.js";
import { currentCall, cutShort } from "../../shared/call-signal.js";

// S3's codes for a Content-MD5 that is malformed or does not match the body: a
// bug of the caller, not unavailability.
const DIGEST_ERRORS = new Set(["BadDigest", "InvalidDigest"]);

/** S3's ETag is the quoted hex MD5 for single-part uploads; "<hex>-<parts>" for multipart ones. */
export function md5FromETag(etag: string | undefined): string | null {
  const hex = etag?.replace(/^"|"$/g, "");
  if (hex === undefined || !/^[0-9a-f]{32}$/i.test(hex)) return null;
  return Buffer.from(hex, "hex").toString("base64");
}

// HEAD responses have no body, so a missing key surfaces as "NotFound" rather than "NoSuchKey".
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "NotFound" || error.name === "NoSuchKey")
  );
}

/** Reading the caller's file or stream failed (not the store). */
export class SourceFileError extends Error {
  constructor(cause: unknown) {
    super("reading the body failed", { cause });
  }
}

export function isUnsatisfiableRange(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.$metadata.httpStatusCode === 416 || error.name === "InvalidRange")
  );
}

/** Worth another attempt: no answer at all, throttling or a server error. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return true; // network, timeout
  const status = error.$metadata.httpStatusCode;
  return status === undefined || status === 429 || status >= 500;
}

export function putFailure(error: unknown): Error {
  if (error instanceof S3ServiceException && DIGEST_ERRORS.has(error.name)) {
    return new Error("the object store refused the bytes: they do not match md5", { cause: error });
  }
  return unavailable(error);
}

// The single mapping of SDK, network and credential failures; the message is
// fixed, so nothing from the request (credentials included) reaches callers. A
// request the calling RPC's end aborted is that end (its deadline, say).
export function unavailable(cause: unknown): FileError {
  const call = currentCall();
  if (call?.signal.aborted) return cutShort(call, "object store");
  return new DependencyUnavailableError("object store", cause);
}

/**
 * A request's abort signal: the calling RPC's end (see shared/call-signal.ts),
 * with `own`, and with `totalMs` a bound on the whole operation, retries
 * included (for requests whose size does not grow with the file).
 */
export function callBound(own?: AbortSignal, totalMs?: number): { abortSignal: AbortSignal } | undefined {
  const signals = [own, currentCall()?.signal, totalMs === undefined ? undefined : AbortSignal.timeout(totalMs)].filter((s) => s !== undefined);
  if (signals.length === 0) return undefined;
  return { abortSignal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) };
}
