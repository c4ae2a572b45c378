// The browser's one connection to the service: a Connect transport on this
// origin that adds the current bearer token, and the token it signs in with.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FileService } from "../../gen/file/v1/file_service_pb.js";

let token = "";

export function setToken(value: string): void {
  token = value.trim();
}

/** The demo token the service hands out in zero-setup mode only; undefined otherwise. */
export async function fetchDemoToken(): Promise<string | undefined> {
  const response = await fetch("/dev/token", { cache: "no-store" });
  return response.ok ? (await response.text()).trim() : undefined;
}

const bearer: Interceptor = (next) => (request) => {
  if (token) request.header.set("Authorization", `Bearer ${token}`);
  return next(request);
};

export const files = createClient(
  FileService,
  createConnectTransport({ baseUrl: location.origin, interceptors: [bearer] }),
);

/** "unauthenticated: <the service's message>", for any error a call or upload throws. */
export function describeError(error: unknown): string {
  const e = ConnectError.from(error);
  return `${codeName(e.code)}: ${e.rawMessage}`;
}

function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
}
