// Verifies user JWTs on the public listener with jose. The algorithm list is
// pinned (never taken from the token), so `alg: none` and algorithm-confusion
// tokens fail; issuer, audience and expiry are always checked.
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { Code, ConnectError } from "@connectrpc/connect";

export interface JwtSettings {
  secret?: string;
  jwksUrl?: string;
  algorithms: string[];
  issuer: string;
  audience: string;
}

export type JwtVerifier = (token: string) => Promise<{ subject: string }>;

/** Leeway for clocks that disagree a little between the token issuer and us. */
const CLOCK_TOLERANCE_SECONDS = 30;

export function createJwtVerifier(settings: JwtSettings): JwtVerifier {
  // Keys are resolved once: the secret is encoded here, and a remote JWKS is
  // cached by jose (refetched only on an unknown `kid`, at most every 30 s).
  const key: Uint8Array | JWTVerifyGetKey =
    settings.secret !== undefined
      ? new TextEncoder().encode(settings.secret)
      : createRemoteJWKSet(new URL(settings.jwksUrl as string));
  const options = {
    algorithms: settings.algorithms,
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ["sub", "exp"],
  };
  return async (token) => {
    try {
      const { payload } =
        key instanceof Uint8Array ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new ConnectError("invalid token: the sub claim must name the user", Code.Unauthenticated);
      }
      return { subject: payload.sub };
    } catch (e) {
      throw toConnectError(e, settings.jwksUrl !== undefined);
    }
  };
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
