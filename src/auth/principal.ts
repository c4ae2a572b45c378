// Who is calling. Every FileService RPC runs with exactly one principal, set by
// the request gate before the request body is read.
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

export type Principal =
  /** A backend service, identified by its client certificate; acts for the owner_id it passes. */
  | { kind: "service"; name: string }
  /** An end user, identified by a JWT's `sub`; acts only on its own files. */
  | { kind: "user"; subject: string };

export const kPrincipal = createContextKey<Principal | undefined>(undefined, { description: "principal" });

export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(kPrincipal);
  if (principal === undefined) {
    // The gate runs for every FileService call; reaching this is a wiring bug, not a caller error.
    throw new ConnectError("caller is not authenticated", Code.Unauthenticated);
  }
  return principal;
}

/** For logs: never a token, only the identity it proved. */
export function describePrincipal(principal: Principal | undefined): string {
  if (principal === undefined) return "anonymous";
  return principal.kind === "service" ? `service:${principal.name}` : `user:${principal.subject}`;
}
