// SigV4's fixed parts, as AWS's own signer writes them: the algorithm, which
// query parameters belong to the presigning, which headers are never signed,
// and the encodings of dates, keys, query values and header values. Kept apart
// from the presigner so each can be read against @smithy/signature-v4.

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

// Query parameters of the presigning itself (everything else in a probe URL is
// a constant the SDK adds for the operation).
export const SIGV4_PARAMS = new Set([
  "X-Amz-Algorithm",
  "X-Amz-Content-Sha256",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-Security-Token",
  "X-Amz-Signature",
  "X-Amz-SignedHeaders",
]);
// @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS.
export const ALWAYS_UNSIGNABLE = new Set([
  "authorization",
  "cache-control",
  "connection",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);

let lastSecond = NaN;
let lastAmzDate: string | undefined;

/** YYYYMMDDTHHMMSSZ, or undefined for a date outside years 0000-9999. */
export function formatAmzDate(date: Date): string | undefined {
  const time = date.getTime();
  if (!Number.isFinite(time)) return undefined;
  const second = Math.floor(time / 1000);
  if (second === lastSecond) return lastAmzDate;
  const iso = date.toISOString(); // 2024-05-06T07:08:09.123Z
  const formatted =
    iso.length === 24 ? `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z` : undefined;
  lastSecond = second;
  lastAmzDate = formatted;
  return formatted;
}

const NEEDS_ESCAPE = /[!'()*]/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH = /^[A-Za-z0-9\-._~/]*$/;
const hexEscape = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/** RFC 3986 encoding of everything but unreserved characters, as SigV4 wants (and @smithy's escapeUri does). */
export function escapeUri(value: string): string {
  if (UNRESERVED.test(value)) return value;
  return encodeURIComponent(value).replace(NEEDS_ESCAPE, hexEscape);
}

/** A key in the path: each segment escaped, the slashes kept (the SDK's greedy `{Key+}` label). */
export function escapeKey(key: string): string {
  if (UNRESERVED_OR_SLASH.test(key)) return key;
  return key.includes("/") ? key.split("/").map(escapeUri).join("/") : escapeUri(key);
}

const NEEDS_NORMALIZING = /[\r\n\t]| {2}|^ | $/;

/** @smithy/signature-v4's canonical header value: line breaks and runs of blanks become one space, trimmed. */
export function canonicalHeaderValue(value: string): string {
  if (!NEEDS_NORMALIZING.test(value)) return value;
  return value.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
}

export const byName = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
