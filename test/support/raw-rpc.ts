// RPCs sent byte by byte, the way a broken or hostile client would: any body,
// any envelope, over gRPC, gRPC-Web and Connect on either listener. Returns the
// code the service answered with (as Connect names it) and the HTTP status, so
// tests can hold the service to "a caller's garbage is the caller's fault".
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { request as http1Request, type IncomingMessage } from "node:http";
import { Code } from "@connectrpc/connect";

export type RawProtocol = "grpc" | "grpc-web" | "connect-proto" | "connect-json";

export interface RawAnswer {
  /** 0 when a stream was still open and had not begun its response. */
  httpStatus: number;
  /** Connect's name of the code ("ok" when the call succeeded or was still streaming). */
  code: string;
  message: string;
}

export interface RawRequest {
  path: string;
  protocol: RawProtocol;
  /** Unary (and server-streaming) over Connect: a plain body; streaming kinds: enveloped. */
  streaming: boolean;
  /** The wire body as sent (already enveloped where the protocol needs it). */
  body: Uint8Array;
  headers?: Record<string, string>;
}

const GRPC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()]),
);
GRPC_NAMES[0] = "ok";

/** One length-prefixed message: flags byte, 4-byte big-endian length, payload. */
export function envelope(payload: Uint8Array, flags = 0, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, declaredLength);
  out.set(payload, 5);
  return out;
}

export function contentTypeOf(protocol: RawProtocol, streaming: boolean): string {
  switch (protocol) {
    case "grpc":
      return "application/grpc+proto";
    case "grpc-web":
      return "application/grpc-web+proto";
    case "connect-proto":
      return streaming ? "application/connect+proto" : "application/proto";
    case "connect-json":
      return streaming ? "application/connect+json" : "application/json";
  }
}

/** Reads the code out of a complete response, whatever the protocol. */
export function answerOf(
  protocol: RawProtocol,
  streaming: boolean,
  httpStatus: number,
  headers: Record<string, string | string[] | undefined>,
  trailers: Record<string, string | string[] | undefined>,
  body: Buffer,
  /** The response was still open when we stopped reading (an accepted stream). */
  open = false,
): RawAnswer {
  const header = (name: string) => {
    const v = trailers[name] ?? headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (protocol === "grpc" || protocol === "grpc-web") {
    let status = header("grpc-status");
    let message = header("grpc-message") ?? "";
    if (status === undefined && protocol === "grpc-web") {
      // The trailers ride in the body, in a frame flagged 0x80.
      for (let i = 0; i + 5 <= body.length; ) {
        const flags = body[i]!;
        const length = body.readUInt32BE(i + 1);
        const frame = body.subarray(i + 5, i + 5 + length);
        if (flags & 0x80) {
          for (const line of frame.toString("latin1").split("\r\n")) {
            const [k, ...v] = line.split(":");
            if (k?.trim().toLowerCase() === "grpc-status") status = v.join(":").trim();
            if (k?.trim().toLowerCase() === "grpc-message") message = v.join(":").trim();
          }
        }
        i += 5 + length;
      }
    }
    if (status === undefined && open) return { httpStatus, code: "ok", message: "" };
    if (status === undefined) return { httpStatus, code: httpStatus >= 500 ? "internal" : "unknown", message: `no grpc-status (HTTP ${httpStatus})` };
    return { httpStatus, code: GRPC_NAMES[Number(status)] ?? `status ${status}`, message: decodeURIComponent(message) };
  }
  if (!streaming || httpStatus !== 200) {
    if (httpStatus === 200) return { httpStatus, code: "ok", message: "" };
    const json = safeJson(body.toString("utf8")) as { code?: string; message?: string } | undefined;
    return { httpStatus, code: json?.code ?? `http ${httpStatus}`, message: json?.message ?? body.toString("utf8").slice(0, 200) };
  }
  // Connect streaming: the end-stream message (flag 0x02) carries the error, if any.
  for (let i = 0; i + 5 <= body.length; ) {
    const flags = body[i]!;
    const length = body.readUInt32BE(i + 1);
    if (flags & 0x02) {
      const end = safeJson(body.subarray(i + 5, i + 5 + length).toString("utf8")) as { error?: { code: string; message?: string } } | undefined;
      return { httpStatus, code: end?.error?.code ?? "ok", message: end?.error?.message ?? "" };
    }
    i += 5 + length;
  }
  return { httpStatus, code: "ok", message: "" };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * How long a streaming call may stay open before it counts as accepted (server
 * streams never end by themselves), counted from the request: a Connect server
 * stream over HTTP/1.1 sends its headers only with its first message, which for
 * WatchFiles may be the heartbeat 15 s later.
 */
const STREAM_GRACE_MS = 300;

/** HTTP/2 with a client certificate: the internal listener. */
export interface RawH2Client {
  call(request: RawRequest): Promise<RawAnswer>;
  close(): void;
}

export function rawH2Client(url: string, tls: { ca: string; cert: string; key: string }): RawH2Client {
  let session: ClientHttp2Session | undefined;
  const open = () => {
    if (session === undefined || session.destroyed || session.closed) {
      session = http2Connect(url, { ca: tls.ca, cert: tls.cert, key: tls.key });
      session.on("error", () => {});
    }
    return session;
  };
  return {
    call(request) {
      return new Promise((resolve, reject) => {
        const stream = open().request({
          ":method": "POST",
          ":path": request.path,
          "content-type": contentTypeOf(request.protocol, request.streaming),
          te: "trailers",
          ...(request.protocol === "connect-proto" || request.protocol === "connect-json" ? { "connect-protocol-version": "1" } : {}),
          ...request.headers,
        });
        let headers: Record<string, string | string[] | undefined> = {};
        let trailers: Record<string, string | string[] | undefined> = {};
        let status = 0;
        const chunks: Buffer[] = [];
        const finish = (open = false) => {
          clearTimeout(timer);
          resolve(answerOf(request.protocol, request.streaming, status, headers, trailers, Buffer.concat(chunks), open));
        };
        const timer = request.streaming
          ? setTimeout(() => {
              stream.close();
              finish(true);
            }, STREAM_GRACE_MS)
          : undefined;
        stream.on("response", (h) => {
          headers = h as typeof headers;
          status = Number(h[":status"]);
        });
        stream.on("trailers", (t) => (trailers = t as typeof trailers));
        stream.on("data", (d: Buffer) => chunks.push(d));
        stream.on("end", () => finish());
        stream.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        stream.end(request.body);
      });
    },
    close() {
      session?.close();
    },
  };
}

/** HTTP/1.1: the public listener. */
export function rawH1Call(baseUrl: string, request: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (answer: RawAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = http1Request(
      new URL(request.path, baseUrl),
      {
        method: "POST",
        headers: {
          "content-type": contentTypeOf(request.protocol, request.streaming),
          ...(request.protocol === "connect-proto" || request.protocol === "connect-json" ? { "connect-protocol-version": "1" } : {}),
          ...request.headers,
        },
      },
      (res) => {
        response = res;
        const chunks: Buffer[] = [];
        answer = (open = false) =>
          answerOf(request.protocol, request.streaming, res.statusCode ?? 0, res.headers, res.trailers ?? {}, Buffer.concat(chunks), open);
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => settle(answer()));
        res.on("error", () => settle(answer()));
      },
    );
    let response: IncomingMessage | undefined;
    // Before the response begins, an open stream has answered nothing: status 0, "ok".
    let answer = (_open?: boolean): RawAnswer => ({ httpStatus: 0, code: "ok", message: "" });
    const timer = request.streaming
      ? setTimeout(() => {
          settle(answer(true));
          response?.destroy();
          req.destroy();
        }, STREAM_GRACE_MS)
      : undefined;
    req.on("error", (e) => (settled ? undefined : reject(e)));
    req.end(request.body);
  });
}
