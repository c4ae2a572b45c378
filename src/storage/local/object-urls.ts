// The local store's presigned URL format: `<publicUrl>/objects/<key>?...`, each
// key segment percent-encoded once, and the request target parsed back the
// same way (each segment decoded exactly once, then checked), so no path trick
// reaches the disk.

import { EXPIRES_PARAM, SIGNATURE_PARAM, type SignedRequest, type UrlSigner } from "./url-signer.js";

/** Where the public listener serves objects. */
export const OBJECTS_PATH = "/objects/";

// Segments are file names: a conservative set, never ".", "..", empty, or
// holding a slash, backslash, NUL or "%" (so nothing decodes twice), and never
// starting with "." (the store's own files). 200 leaves room for the
// store's suffixes within the usual 255-byte name limit.
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const MAX_KEY_LENGTH = 1024;

// The query parameters that declare a presigned PUT's signed header values.
export const DECLARED_PARAM: Readonly<Record<string, string>> = {
  "content-type": "X-Content-Type",
  "content-length": "X-Content-Length",
  "content-md5": "X-Content-MD5",
};
export const HEADER_NAME: Readonly<Record<string, string>> = {
  "content-type": "Content-Type",
  "content-length": "Content-Length",
  "content-md5": "Content-MD5",
};

export function isValidKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && key.split("/").every((segment) => SEGMENT.test(segment));
}

export function assertKey(key: string): void {
  if (!isValidKey(key)) throw new Error(`invalid object key ${JSON.stringify(key)}`);
}

export function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/** The key (each segment decoded exactly once, then checked) and query of a raw request target. */
export function parseTarget(target: string): { key: string; query: URLSearchParams } | null {
  const mark = target.indexOf("?");
  const path = mark === -1 ? target : target.slice(0, mark);
  if (!path.startsWith(OBJECTS_PATH)) return null;
  const segments: string[] = [];
  for (const raw of path.slice(OBJECTS_PATH.length).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null; // malformed escape
    }
    if (!SEGMENT.test(segment)) return null;
    segments.push(segment);
  }
  const key = segments.join("/");
  if (key.length > MAX_KEY_LENGTH) return null;
  return { key, query: new URLSearchParams(mark === -1 ? "" : target.slice(mark + 1)) };
}

export function publicBase(publicUrl: string): string {
  const url = new URL(publicUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("publicUrl must be an http(s) URL");
  if (url.search !== "" || url.hash !== "") throw new Error("publicUrl must not have a query or fragment");
  return url.href.replace(/\/+$/, "");
}


/** A presigned URL for `method` on `key`: the signature covers the expiry and `fields`; `extra` rides along in the query. */
export function signedUrl(
  signer: UrlSigner,
  base: string,
  request: { method: SignedRequest["method"]; key: string; expiresInSeconds: number; fields: Record<string, string>; extra: Record<string, string> },
): { url: string; expiresAt: Date } {
  const { method, key, expiresInSeconds, fields, extra } = request;
  assertKey(key);
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds <= 0) {
    throw new Error("expiresInSeconds must be a positive integer");
  }
  const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
  const query = new URLSearchParams(extra);
  query.set(EXPIRES_PARAM, String(expires));
  query.set(SIGNATURE_PARAM, signer.sign({ method, key, expires, fields }));
  return { url: `${base}${OBJECTS_PATH}${encodeKey(key)}?${query}`, expiresAt: new Date(expires * 1000) };
}
