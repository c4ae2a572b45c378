// Opaque keyset cursors for ListFiles. The token carries the last id served and
// the filter it was served for, so a token cannot be replayed against another query.
import { FileError } from "../domain/errors.js";

interface Cursor {
  /** The last id of the previous page. */
  after: string;
  /** The status filter the token belongs to ("" for the default). */
  filter: string;
}

export function encodePageToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ a: cursor.after, f: cursor.filter })).toString("base64url");
}

export function decodePageToken(token: string, filter: string): string | undefined {
  if (token === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      typeof parsed === "object" && parsed !== null &&
      "a" in parsed && typeof parsed.a === "string" && /^[0-9a-f-]{36}$/.test(parsed.a) &&
      "f" in parsed && parsed.f === filter
    ) {
      return parsed.a;
    }
  } catch {
    // fall through to the error below
  }
  throw new FileError("invalid_argument", "page_token: is not a token from a previous ListFiles call with the same status filter");
}
