// The object routes' one error translation: the local store's refusals (S3
// error codes) to S3's HTTP statuses, and what a route throws to a status and
// code, so clients written against S3 read them the same way.
import { FileError } from "../domain/errors.js";
import type { ObjectRefusal, ObjectRefusalCode } from "../storage/local/object-refusal.js";

export interface HttpObjectError {
  status: number;
  /** S3's error code. */
  code: string;
  message: string;
  headers: Record<string, string>;
}

const STATUS: Readonly<Record<ObjectRefusalCode, number>> = {
  InvalidURI: 400,
  AccessDenied: 403,
  SignatureDoesNotMatch: 403,
  MissingContentLength: 411,
  EntityTooLarge: 413,
  IncompleteBody: 400,
  BadDigest: 400,
  KeyConflict: 409,
  NoSuchKey: 404,
  InvalidRange: 416,
};

export function httpErrorOfRefusal(refusal: ObjectRefusal): HttpObjectError {
  return { status: STATUS[refusal.code], code: refusal.code, message: refusal.message, headers: refusal.headers };
}

/** For what a route throws: a dependency that failed is 503 (retry); the rest says nothing of itself. */
export function httpErrorOfFailure(error: unknown): HttpObjectError {
  if (error instanceof FileError && error.reason === "unavailable") {
    return { status: 503, code: "ServiceUnavailable", message: "The object store is unavailable; retry later.", headers: {} };
  }
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  return { status, code: status >= 500 ? "InternalError" : "InvalidRequest", message: "The request could not be served.", headers: {} };
}
