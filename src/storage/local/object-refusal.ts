// Why the local store refuses a presigned request or an upload's bytes, in the
// vocabulary of object stores: S3's error codes, which S3 clients already read.
// Which HTTP status each code is answered with is the object routes' business
// (transport/object-errors.ts). The messages are S3's, made more specific
// where a developer needs it.

export type ObjectRefusalCode =
  | "InvalidURI"
  | "AccessDenied"
  | "SignatureDoesNotMatch"
  | "MissingContentLength"
  | "EntityTooLarge"
  | "IncompleteBody"
  | "BadDigest"
  | "KeyConflict"
  | "NoSuchKey"
  | "InvalidRange";

export interface ObjectRefusal {
  ok: false;
  code: ObjectRefusalCode;
  message: string;
  /** Headers the answer carries (e.g. Content-Range of an unsatisfiable range). */
  headers: Record<string, string>;
}

export function refuse(code: ObjectRefusalCode, message: string, headers: Record<string, string> = {}): ObjectRefusal {
  return { ok: false, code, message, headers };
}
