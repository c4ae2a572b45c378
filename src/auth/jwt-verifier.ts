// Verifies user JWTs on the public listener with jose. The algorithm list is
// pinned (never taken from the token), so `alg: none` and algorithm-confusion
// tokens fail; issuer, audience and expiry are always checked.
//
// Cost: jose verifies signatures with WebCrypto, an asynchronous job on libuv's
// thread pool that costs 25-50 us a token on our machines (ES256 ~130 us), more
// than the rest of a GetFile. A browser sends the same token with every call
// until it expires, so a token verified once is remembered (the exact token
// string, successes only) and a repeat costs a map lookup and the expiry check:
// see VERIFIED_* below.
import { webcrypto } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JwtKeySettings } from "../config.js";

export type JwtVerifier = (token: string) => Promise<{ subject: string }>;

/** Leeway for clocks that disagree a little between the token issuer and us. */
const CLOCK_TOLERANCE_SECONDS = 30;

// Verified tokens remembered: at most this many (the oldest go first)...
const VERIFIED_MAX_ENTRIES = 5_000;
// ...each for at most this long (and never past its expiry): a key withdrawn
// from the JWKS stops being accepted within this time of jose noticing...
const VERIFIED_MAX_AGE_MS = 60_000;
// ...and only tokens up to this length (typical JWTs are under 1 KB), which
// bounds the memory at ~10 MB.
const VERIFIED_MAX_TOKEN_LENGTH = 2_048;

const HMAC_HASHES: Record<string, string> = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512" };

interface Verified {
  subject: string;
  /** The token's `exp` claim, seconds. */
  exp: number;
  /** Date.now() after which the token is verified again. */
  recheckAt: number;
}

export function createJwtVerifier(settings: JwtKeySettings): JwtVerifier {
  // Keys are resolved once: the secret is imported here as a WebCrypto key per
  // allowed HMAC algorithm (jose would import raw bytes again for every
  // token), and a remote JWKS is cached by jose (refetched only on an unknown
  // `kid`, at most every 30 s).
  const key: JWTVerifyGetKey =
    settings.secret !== undefined
      ? secretKeys(settings.secret, settings.algorithms)
      : createRemoteJWKSet(new URL(settings.jwksUrl as string));
  const options = {
    algorithms: settings.algorithms,
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ["sub", "exp"],
  };
  const verified = new Map<string, Verified>();
  return async (token) => {
    const now = Date.now();
    const known = verified.get(token);
    if (known !== undefined) {
      // jose's own expiry rule: expired once exp <= now - tolerance (whole seconds).
      if (now < known.recheckAt && known.exp > Math.floor(now / 1000) - CLOCK_TOLERANCE_SECONDS) {
        return { subject: known.subject };
      }
      verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, key, options);
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new ConnectError("invalid token: the sub claim must name the user", Code.Unauthenticated);
      }
      // jose checked: exp is a number (a required claim), nbf (if any) has passed.
      if (token.length <= VERIFIED_MAX_TOKEN_LENGTH && typeof payload.exp === "number") {
        if (verified.size >= VERIFIED_MAX_ENTRIES) verified.delete(verified.keys().next().value as string);
        verified.set(token, { subject: payload.sub, exp: payload.exp, recheckAt: now + VERIFIED_MAX_AGE_MS });
      }
      return { subject: payload.sub };
    } catch (e) {
      throw toConnectError(e, settings.jwksUrl !== undefined);
    }
  };
}

/** The secret as a WebCrypto HMAC key for each allowed HS* algorithm, imported once. */
function secretKeys(secret: string, algorithms: readonly string[]): JWTVerifyGetKey {
  const bytes = new TextEncoder().encode(secret);
  const keys = new Map<string, Promise<webcrypto.CryptoKey>>();
  for (const alg of algorithms) {
    const hash = HMAC_HASHES[alg];
    if (hash === undefined) continue;
    const imported = webcrypto.subtle.importKey("raw", bytes, { name: "HMAC", hash }, false, ["verify"]);
    imported.catch(() => undefined); // reported when used
    keys.set(alg, imported);
  }
  // jose refuses an algorithm outside the list before asking for its key; for
  // others than HS*, the raw bytes, which jose refuses or imports itself.
  return (header) => keys.get(header.alg) ?? bytes;
}

// jose's messages name the failed check (expiry, audience, signature) without
// echoing the token or key, so they are safe and useful to the caller.
function toConnectError(e: unknown, remoteKeys: boolean): ConnectError {
  if (e instanceof ConnectError) return e;
  // A JWKS endpoint that cannot be fetched is our outage, not a bad token.
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || (remoteKeys && !(e instanceof errors.JOSEError))) {
    return new ConnectError("token keys are unavailable, retry later", Code.Unavailable);
  }
  if (e instanceof errors.JWTExpired) return new ConnectError("invalid token: expired", Code.Unauthenticated);
  if (e instanceof errors.JOSEError) {
    return new ConnectError(`invalid token: ${e.message}`, Code.Unauthenticated);
  }
  return new ConnectError("invalid token", Code.Unauthenticated);
}
