// One HTTP/2 connection may not open streams without bound
// (HTTP2_MAX_CONCURRENT_STREAMS). Well-behaved clients queue what the
// advertised limit does not admit; a client that ignores it gets the excess
// streams refused (RST_STREAM REFUSED_STREAM) while the service goes on
// answering. The misbehaving client here writes raw frames: every library
// client would politely wait.
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { connect as http2Connect } from "node:http2";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { rm } from "node:fs/promises";
import { createPki, startTestService, type Pki, type TestService } from "../support/service.js";

const LIMIT = 8;
let svc: TestService;
let pki: Pki;
beforeAll(async () => {
  pki = await createPki();
  // The public listener speaks HTTP/2 only over TLS: give it the server certificate too.
  svc = await startTestService({
    pki,
    env: { HTTP2_MAX_CONCURRENT_STREAMS: String(LIMIT), PUBLIC_TLS_CERT_FILE: pki.paths.serverCert, PUBLIC_TLS_KEY_FILE: pki.paths.serverKey },
  });
});
afterAll(async () => {
  await svc?.stop();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

/** How a raw client reaches each listener: the internal one wants a client certificate. */
const listeners = {
  internal: () => ({ url: svc.grpcUrl, tls: { ca: svc.pki.ca, cert: svc.pki.hangout.cert, key: svc.pki.hangout.key } }),
  public: () => ({ url: svc.httpUrl, tls: { ca: svc.pki.ca } }),
};
type ListenerName = keyof typeof listeners;

const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const REFUSED_STREAM = 0x7;

function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array()): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK: a literal header field without indexing, names and values as raw octets (all < 127 bytes). */
function hpack(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    parts.push(Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

interface Received {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frameReader(socket: TLSSocket): Received[] {
  const frames: Received[] = [];
  let buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 9) {
      const length = buffer.readUIntBE(0, 3);
      if (buffer.length < 9 + length) break;
      frames.push({ type: buffer[3]!, flags: buffer[4]!, streamId: buffer.readUInt32BE(5) & 0x7fffffff, payload: buffer.subarray(9, 9 + length) });
      buffer = buffer.subarray(9 + length);
    }
  });
  return frames;
}

describe.each(Object.keys(listeners) as ListenerName[])("HTTP/2 concurrent streams on the %s listener", (listener) => {
  it("advertises the limit", async () => {
    const { url, tls } = listeners[listener]();
    const session = http2Connect(url, tls);
    try {
      await once(session, "remoteSettings");
      expect(session.remoteSettings.maxConcurrentStreams).toBe(LIMIT);
    } finally {
      session.close();
    }
  });

  // RFC 9113 §5.1.2 lets a server treat a HEADERS frame past its limit as a
  // stream error (REFUSED_STREAM) or a connection error. nghttp2 (Node) refuses
  // the streams while its settings are not yet acknowledged, and ends the
  // connection of a client that acknowledged the limit and broke it anyway.
  it("refuses the streams past the limit, and keeps answering others", async () => {
    const { frames, ids, done } = await openStreams(listener, { acknowledge: false, count: LIMIT + 6 });
    await expectOthersServed(listener);
    await done((f) => refused(f).length + answered(f).size >= ids.length);
    expect(frames.find((f) => f.type === FRAME.GOAWAY)).toBeUndefined();
    expect(answered(frames).size).toBe(LIMIT);
    expect(refused(frames).map((f) => f.streamId)).toEqual(ids.slice(LIMIT));
  });

  it("closes the connection of a client that acknowledged the limit and broke it, and keeps answering others", async () => {
    const { frames, done } = await openStreams(listener, { acknowledge: true, count: LIMIT + 1 });
    await expectOthersServed(listener);
    await done((f) => f.some((x) => x.type === FRAME.GOAWAY));
    const goaway = frames.find((f) => f.type === FRAME.GOAWAY)!;
    expect(goaway.payload.readUInt32BE(4)).toBe(PROTOCOL_ERROR);
    expect(goaway.payload.subarray(8).toString()).toMatch(/max concurrent streams exceeded/);
  });
});

const PROTOCOL_ERROR = 0x1;
const refused = (frames: Received[]) => frames.filter((f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === REFUSED_STREAM);
const answered = (frames: Received[]) => new Set(frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId));

/** A raw connection to a listener that opens `count` Health/Watch streams at once. */
async function openStreams(listener: ListenerName, options: { acknowledge: boolean; count: number }) {
  const { url, tls } = listeners[listener]();
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: Number(new URL(url).port),
    servername: "localhost",
    ...tls,
    ALPNProtocols: ["h2"],
  });
  await once(socket, "secureConnect");
  const frames = frameReader(socket);
  socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  socket.write(frame(FRAME.SETTINGS, 0, 0));
  if (options.acknowledge) {
    const deadline = Date.now() + 5_000;
    while (!frames.some((f) => f.type === FRAME.SETTINGS && (f.flags & 0x1) === 0) && Date.now() < deadline) await sleep(10);
    socket.write(frame(FRAME.SETTINGS, 0x1, 0));
  }
  // Health/Watch streams stay open, so every one of them holds a slot.
  const ids = Array.from({ length: options.count }, (_, i) => 1 + 2 * i);
  const body = Buffer.from([0, 0, 0, 0, 0]); // one empty HealthCheckRequest
  const headers = hpack({
    ":method": "POST",
    ":scheme": "https",
    ":path": "/grpc.health.v1.Health/Watch",
    ":authority": "localhost",
    "content-type": "application/grpc",
    te: "trailers",
  });
  for (const id of ids) {
    socket.write(Buffer.concat([frame(FRAME.HEADERS, 0x4 /* END_HEADERS */, id, headers), frame(FRAME.DATA, 0x1 /* END_STREAM */, id, body)]));
  }
  return {
    frames,
    ids,
    /** Waits (at most 5 s) until `until` holds, then drops the connection. */
    async done(until: (frames: Received[]) => boolean) {
      const deadline = Date.now() + 5_000;
      while (!until(frames) && Date.now() < deadline) await sleep(20);
      socket.destroy();
    },
  };
}

/** A normal client on its own connection is served meanwhile. */
async function expectOthersServed(listener: ListenerName) {
  const { url, tls } = listeners[listener]();
  const sessionManager = new Http2SessionManager(url, undefined, tls);
  try {
    const health = createClient(Health, createGrpcTransport({ baseUrl: url, sessionManager }));
    expect((await health.check({})).status).toBeDefined();
  } finally {
    sessionManager.abort();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a plain route's early refusal over HTTP/2 (the public listener's /objects)", () => {
  it("ends the request stream once answered (NO_ERROR): Node's client does not wait on flow control for a body nobody reads", async () => {
    const session = http2Connect(svc.httpUrl, { ca: svc.pki.ca });
    try {
      const req = session.request({ ":method": "PUT", ":path": "/objects/files/refused?X-Signature=forged", "content-type": "application/octet-stream" });
      // Far more than the stream's 64 KiB window: unread, the client would block for good.
      req.write(Buffer.alloc(4 * 1024 * 1024));
      const [headers] = (await once(req, "response")) as [Record<string, string | number>];
      expect(headers[":status"]).toBeGreaterThanOrEqual(400);
      req.resume();
      const closed = once(req, "close").then(() => req.rstCode);
      const rstCode = await Promise.race([closed, sleep(5_000).then(() => "still open after 5 s")]);
      expect(rstCode).toBe(0); // NGHTTP2_NO_ERROR
    } finally {
      session.destroy();
    }
  });
});

