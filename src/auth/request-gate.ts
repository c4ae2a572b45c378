// Authentication for every RPC, run by connect before the request body is read
// (a rejected caller costs no parsing). It decides WHO is calling; what that
// caller may touch is decided per file by the service logic (owner scoping).
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { kPrincipal, type Principal } from "./principal.js";
import { kPeerCertificate } from "./peer-certificate.js";
import type { JwtVerifier } from "./jwt-verifier.js";

export type RequestGate = (context: HandlerContext) => Promise<void>;

/** Services anyone may call: load balancers and orchestrators probe health without credentials. */
const PUBLIC_SERVICES = new Set<string>([Health.typeName]);

function isPublic(context: HandlerContext): boolean {
  return PUBLIC_SERVICES.has(context.service.typeName);
}

/** Internal listener: the caller is the service its verified client certificate names. */
export function createServiceGate(allowedClients: readonly string[]): RequestGate {
  const allowed = new Set(allowedClients);
  return async (context) => {
    if (isPublic(context)) return;
    const peer = context.values.get(kPeerCertificate);
    // The TLS layer already refuses unverified certificates; this guards the wiring.
    if (peer === undefined || !peer.authorized) {
      throw new ConnectError("a client certificate signed by our CA is required", Code.Unauthenticated);
    }
    const name = peer.identities.find((id) => allowed.has(id));
    if (name === undefined) {
      throw new ConnectError(
        `client certificate identity ${JSON.stringify(peer.identities[0] ?? "")} is not allowed to call this service`,
        Code.PermissionDenied,
      );
    }
    context.values.set(kPrincipal, { kind: "service", name } satisfies Principal);
  };
}

/** Public listener: the caller is the user named by a bearer JWT. */
export function createUserGate(verify: JwtVerifier): RequestGate {
  return async (context) => {
    if (isPublic(context)) return;
    const header = context.requestHeader.get("authorization");
    if (header === null) {
      throw new ConnectError("missing Authorization: Bearer <token> header", Code.Unauthenticated);
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      throw new ConnectError("the Authorization header must be 'Bearer <token>'", Code.Unauthenticated);
    }
    const { subject } = await verify(match[1] as string);
    context.values.set(kPrincipal, { kind: "user", subject } satisfies Principal);
  };
}
