// What a caller may touch: the owner it acts for. A service acts for the owner
// it names; a user only ever for itself.
import { FileError } from "../domain/errors.js";
import type { Principal } from "./principal.js";

const MAX_OWNER_ID_BYTES = 255;

export function resolveOwner(principal: Principal, requestedOwnerId: string): string {
  if (principal.kind === "user") {
    if (requestedOwnerId !== "" && requestedOwnerId !== principal.subject) {
      throw new FileError("permission_denied", "owner_id: a user may act only on its own files (leave owner_id empty or set it to your own id)");
    }
    return checkOwnerId(principal.subject, "token subject");
  }
  if (requestedOwnerId === "") {
    throw new FileError("invalid_argument", "owner_id: is required when a service calls");
  }
  return checkOwnerId(requestedOwnerId, "owner_id");
}

function checkOwnerId(ownerId: string, field: string): string {
  if (Buffer.byteLength(ownerId, "utf8") > MAX_OWNER_ID_BYTES) {
    throw new FileError("invalid_argument", `${field}: must be at most ${MAX_OWNER_ID_BYTES} bytes`);
  }
  // MySQL's PAD SPACE collations compare 'alice ' equal to 'alice': refuse the ambiguity.
  if (ownerId.trim() !== ownerId) {
    throw new FileError("invalid_argument", `${field}: must not start or end with whitespace`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(ownerId)) {
    throw new FileError("invalid_argument", `${field}: must not contain control characters`);
  }
  return ownerId;
}
