// The one error vocabulary of the domain. Use cases, persistence, storage and
// media throw FileError with a machine-readable reason and a message a person
// can act on (it names the field and the rule); the edges map the reason, in
// one module each: to a Connect/gRPC Code (transport/rpc-errors.ts) and to an
// HTTP status (transport/object-errors.ts). The cause, if any, goes to logs only.

export type FileErrorReason =
  /** The request breaks a rule; the message names the field and the rule. */
  | "invalid_argument"
  /** The bytes are not an acceptable image (ImageRejectedError). */
  | ImageRejection
  /** No such file for this owner (another owner's file looks the same). */
  | "not_found"
  /** The file is not in a state that allows this (e.g. downloading a pending file). */
  | "failed_precondition"
  /** The caller may not act for that owner. */
  | "permission_denied"
  /** A dependency (database, object store) did not answer: the caller may retry. */
  | "unavailable"
  /** The caller's deadline passed while a dependency was asked. */
  | "deadline_exceeded"
  /** The caller went away while a dependency was asked. */
  | "cancelled";

export type ImageRejection = "unsupported_type" | "too_many_pixels" | "undecodable";

export class FileError extends Error {
  readonly reason: FileErrorReason;

  constructor(reason: FileErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FileError";
    this.reason = reason;
  }
}

export type Dependency = "database" | "object store" | "event broker" | "malware scanner";

/** A dependency failed (or, `message` says, was too slow for the call); its cause is for logs, never for the caller. */
export class DependencyUnavailableError extends FileError {
  readonly dependency: Dependency;

  constructor(dependency: Dependency, cause: unknown, message = `${dependency} is unavailable`) {
    super("unavailable", message, { cause });
    this.name = "DependencyUnavailableError";
    this.dependency = dependency;
  }
}

/** The call ended (its deadline passed, or the caller cancelled) while `dependency` was asked: nothing to wait for. */
export class CallEndedError extends FileError {
  constructor(why: "deadline" | "cancelled", dependency: Dependency) {
    super(
      why === "deadline" ? "deadline_exceeded" : "cancelled",
      why === "deadline" ? `the call's deadline passed while waiting for the ${dependency}` : `the call was cancelled while waiting for the ${dependency}`,
    );
    this.name = "CallEndedError";
  }
}

/**
 * The content is not an acceptable image. `message` is safe to show the
 * uploader; the decoder's own words, if any, are in `cause` (for logs).
 */
export class ImageRejectedError extends FileError {
  declare readonly reason: ImageRejection;

  constructor(reason: ImageRejection, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
    this.name = "ImageRejectedError";
  }
}

/** Another call with the same idempotency key inserted first (a concurrent retry): read what it made. */
export class IdempotencyConflictError extends Error {
  override name = "IdempotencyConflictError";
}
