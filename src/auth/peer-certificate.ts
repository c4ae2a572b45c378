// The TLS peer of a request on the internal listener, read from the socket
// while the request is accepted (connect's contextValues hook is synchronous).
import type { TLSSocket } from "node:tls";
import { createContextKey } from "@connectrpc/connect";

export interface PeerCertificate {
  /** True only when the certificate chains to our CA (a self-signed one still has a CN). */
  authorized: boolean;
  /** Names the certificate claims: URI SANs first, then the subject CN. */
  identities: string[];
}

export const kPeerCertificate = createContextKey<PeerCertificate | undefined>(undefined, {
  description: "peer certificate",
});

export function readPeerCertificate(socket: TLSSocket): PeerCertificate {
  if (typeof socket.getPeerCertificate !== "function") {
    return { authorized: false, identities: [] };
  }
  const cert = socket.getPeerCertificate();
  const identities: string[] = [];
  // subjectaltname looks like 'URI:spiffe://x/hangout, DNS:hangout'.
  for (const entry of (cert.subjectaltname ?? "").split(",")) {
    const san = entry.trim();
    if (san.startsWith("URI:")) identities.push(san.slice(4));
  }
  const cn = cert.subject?.CN;
  if (typeof cn === "string" && cn !== "") identities.push(cn);
  return { authorized: socket.authorized === true, identities };
}
