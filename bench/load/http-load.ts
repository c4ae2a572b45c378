// An HTTP/1.1 load generator in its own process, for Connect JSON (or any
// request/response HTTP): a fixed number of keep-alive connections, one request
// in flight on each, for a fixed time. Raw sockets with prebuilt request bytes
// and a minimal response parser, so that the client costs little CPU on a
// machine it shares with the server. Prints one JSON line of results.
//
// Input: the JSON of HttpLoadSpec in the LOAD_SPEC environment variable, or in
// the file LOAD_SPEC_FILE names (an environment string is limited to 128 KiB).
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { quantile, type LoadResult } from "./closed-loop.js";

export interface HttpLoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpLoadSpec {
  host: string;
  port: number;
  /** Sent in turn. */
  requests: HttpLoadRequest[];
  /** Keep-alive connections, each with one request in flight. */
  connections: number;
  durationMs: number;
  warmupMs: number;
}

/** Here `errors` are responses other than 200 (counted in `calls` too) and connection failures. */
export type HttpLoadResult = LoadResult;

function requestBytes(spec: HttpLoadSpec, r: HttpLoadRequest): Buffer {
  const body = Buffer.from(r.body ?? "");
  const head = [
    `${r.method ?? "POST"} ${r.path} HTTP/1.1`,
    `host: ${spec.host}:${spec.port}`,
    "connection: keep-alive",
    ...Object.entries(r.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.length}`,
    "",
    "",
  ].join("\r\n");
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

const CRLFCRLF = Buffer.from("\r\n\r\n");

/** Length of the first complete response in `buffer` and its status, or undefined when incomplete. */
function parseResponse(buffer: Buffer): { length: number; status: number; body: Buffer } | undefined {
  const headerEnd = buffer.indexOf(CRLFCRLF);
  if (headerEnd < 0) return undefined;
  const head = buffer.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const bodyStart = headerEnd + 4;
  if (lengthMatch !== null) {
    const end = bodyStart + Number(lengthMatch[1]);
    return buffer.length < end ? undefined : { length: end, status, body: buffer.subarray(bodyStart, end) };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let at = bodyStart;
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.toString("latin1", at, lineEnd), 16);
      const dataEnd = lineEnd + 2 + size + 2;
      if (buffer.length < dataEnd) return undefined;
      if (size === 0) return { length: dataEnd, status, body: Buffer.concat(parts) };
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = dataEnd;
    }
  }
  return { length: bodyStart, status, body: Buffer.alloc(0) };
}

async function main(): Promise<void> {
  const specFile = process.env.LOAD_SPEC_FILE;
  const spec = JSON.parse(specFile ? readFileSync(specFile, "utf8") : (process.env.LOAD_SPEC ?? "{}")) as HttpLoadSpec;
  const requests = spec.requests.map((r) => requestBytes(spec, r));
  let seq = 0;
  let measuring = false;
  let stopped = false;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];

  const runConnection = () =>
    new Promise<void>((resolve, reject) => {
      const socket: Socket = connect({ host: spec.host, port: spec.port, noDelay: true });
      let buffer: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = () => {
        if (stopped) {
          socket.end();
          resolve();
          return;
        }
        sentAt = performance.now();
        socket.write(requests[seq++ % requests.length]!);
      };
      socket.once("connect", send);
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        const response = parseResponse(buffer);
        if (response === undefined) return;
        buffer = buffer.subarray(response.length);
        if (measuring) {
          calls++;
          latencies.push(performance.now() - sentAt);
          if (response.status !== 200) {
            errors++;
            firstError ??= `HTTP ${response.status}: ${response.body.toString("utf8").slice(0, 300)}`;
          }
        }
        send();
      });
      socket.on("close", () => {
        if (!stopped) reject(new Error("the server closed a keep-alive connection"));
      });
    });

  const connections = Array.from({ length: spec.connections }, runConnection);
  const failed = Promise.all(connections).catch((error: unknown) => error);
  await new Promise((r) => setTimeout(r, spec.warmupMs));
  measuring = true;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, spec.durationMs));
  measuring = false;
  const durationMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  stopped = true;
  const connectionError = await failed;
  if (connectionError instanceof Error) {
    errors++;
    firstError ??= connectionError.message;
  }

  latencies.sort((a, b) => a - b);
  const result: HttpLoadResult = {
    calls,
    errors,
    firstError,
    durationMs,
    perSecond: calls / (durationMs / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    clientCpuUsPerCall: calls === 0 ? 0 : (cpu.user + cpu.system) / calls,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
