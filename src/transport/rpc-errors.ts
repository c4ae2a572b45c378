// The RPC edge's one error translation: the domain's FileError reasons to
// Connect/gRPC Codes. Callers see a Code and a message they can act on, never a
// stack trace or an internal message: a failed dependency is Unavailable
// (retry), anything unexpected a bare Internal; causes go to the log only.
import { Code, ConnectError } from "@connectrpc/connect";
import { DependencyUnavailableError, FileError, type FileErrorReason } from "../domain/errors.js";
import type { Logger } from "../observability/logger.js";

const CODE: Readonly<Record<FileErrorReason, Code>> = {
  invalid_argument: Code.InvalidArgument,
  unsupported_type: Code.InvalidArgument,
  too_many_pixels: Code.InvalidArgument,
  undecodable: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  cancelled: Code.Canceled,
};

export function toConnectError(error: unknown, log: Logger, rpc: string): ConnectError {
  // Raised by connect itself or by the auth gate, already in the caller's terms.
  if (error instanceof ConnectError) return error;
  if (error instanceof DependencyUnavailableError) {
    log.warn({ rpc, dependency: error.dependency, err: error.cause }, error.message);
    return new ConnectError(`${error.message}, retry later`, Code.Unavailable);
  }
  if (error instanceof FileError) return new ConnectError(error.message, CODE[error.reason]);
  log.error({ rpc, err: error }, "unexpected error");
  return new ConnectError("internal error", Code.Internal);
}
