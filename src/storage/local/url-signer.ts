// Signs and verifies the presigned URLs of the local object store: an
// HMAC-SHA256 over the method, the key, the expiry and the values the request
// is bound to (PUT: the headers the uploader must send; GET: the
// Content-Disposition and Content-Type the response will carry).
import { createHmac, timingSafeEqual } from "node:crypto";

/** Query parameters of a presigned URL. */
export const EXPIRES_PARAM = "X-Expires";
export const SIGNATURE_PARAM = "X-Signature";
export const RESPONSE_DISPOSITION_PARAM = "response-content-disposition";
export const RESPONSE_TYPE_PARAM = "response-content-type";

// An HMAC key shorter than the hash output weakens it; refuse it rather than sign weakly.
const MIN_SECRET_BYTES = 32;
// Binds signatures to this scheme, so a MAC made elsewhere with the same secret never verifies here.
const DOMAIN = "file-service/local-object/v1";

export interface SignedRequest {
  method: "PUT" | "GET";
  /** The decoded object key. */
  key: string;
  /** Unix seconds; the URL is refused after this instant. */
  expires: number;
  /** Lower-case names; a value the request lacks is the empty string. */
  fields: Readonly<Record<string, string>>;
}

export type Verification = "valid" | "invalid" | "expired";

export interface UrlSigner {
  /** base64url HMAC-SHA256 (no padding). */
  sign(request: SignedRequest): string;
  /** Checks the signature first, so "expired" is only said of URLs this signer made. */
  verify(request: SignedRequest, signature: string, nowMs?: number): Verification;
}

export function createUrlSigner(secret: Uint8Array | string): UrlSigner {
  const key = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new Error(`the URL signing secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }

  const sign = (request: SignedRequest): string =>
    createHmac("sha256", key).update(canonical(request)).digest("base64url");

  return {
    sign,
    verify(request, signature, nowMs = Date.now()) {
      const expected = Buffer.from(sign(request));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
      return nowMs > request.expires * 1000 ? "expired" : "valid";
    },
  };
}

// JSON keeps the parts unambiguous whatever characters a value holds; fields
// are sorted so the order they were gathered in does not matter.
function canonical({ method, key, expires, fields }: SignedRequest): string {
  const sorted = Object.entries(fields)
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([DOMAIN, method, key, expires, sorted]);
}
