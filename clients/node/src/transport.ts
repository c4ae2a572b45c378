// The two ways in: gRPC over mutual TLS for backends (the internal listener),
// Connect with a bearer token for tools acting as a user (the public one).
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** A backend service: gRPC with a client certificate signed by the service's CA. */
export interface MtlsOptions {
  url: string;
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

/** A user (or a tool acting as one): Connect with `Authorization: Bearer <token>`. */
export interface TokenOptions {
  url: string;
  token: string;
  /** The CA of an https public listener with a private certificate. */
  ca?: string | Buffer;
}

export type ConnectionOptions = MtlsOptions | TokenOptions | { transport: Transport };

export interface OpenTransport {
  transport: Transport;
  /** Closes the HTTP/2 session (an open one keeps the process alive). */
  close(): void;
}

export function openTransport(options: ConnectionOptions): OpenTransport {
  if ("transport" in options) return { transport: options.transport, close: () => {} };
  if ("token" in options) {
    const bearer: Interceptor = (next) => (request) => {
      request.header.set("Authorization", `Bearer ${options.token}`);
      return next(request);
    };
    const transport = createConnectTransport({
      baseUrl: options.url,
      httpVersion: "1.1",
      interceptors: [bearer],
      ...(options.ca !== undefined ? { nodeOptions: { ca: options.ca } } : {}),
    });
    return { transport, close: () => {} };
  }
  const sessions = new Http2SessionManager(options.url, undefined, { ca: options.ca, cert: options.cert, key: options.key });
  return { transport: createGrpcTransport({ baseUrl: options.url, sessionManager: sessions }), close: () => sessions.abort() };
}
