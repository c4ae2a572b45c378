// The patches in patches/ (applied by patch-package at npm install) are live:
// connect and connect-node end every call by aborting its signals, and without
// a reason Node builds a DOMException (and captures a stack) for each abort():
// about a third of the server CPU of a no-op RPC. Patched, they share one
// reason. If an upgrade drops a patch, these fail before the benchmarks drift.
import { connect as h2connect, createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { createHandlerContext } from "@connectrpc/connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { FileService } from "../../gen/file/v1/file_service_pb.js";

function expectOneSharedAbortError(reasons: unknown[]) {
  expect(reasons).toHaveLength(2);
  expect(reasons[0]).toBeInstanceOf(DOMException);
  expect((reasons[0] as DOMException).name).toBe("AbortError");
  expect(reasons[1]).toBe(reasons[0]);
}

const newContext = () =>
  createHandlerContext({
    service: FileService,
    method: FileService.method.getFile,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "https://localhost/file.v1.FileService/GetFile",
  });

describe("patched connect", () => {
  it("ends a handler context with one shared AbortError, not a new one per call", () => {
    const reasons = [1, 2].map(() => {
      const context = newContext();
      context.abort();
      expect(context.signal.aborted).toBe(true);
      return context.signal.reason as unknown;
    });
    expectOneSharedAbortError(reasons);
  });

  it("keeps a caller's own reason", () => {
    const context = newContext();
    const reason = new Error("client went away");
    context.abort(reason);
    expect(context.signal.reason).toBe(reason);
  });
});

describe("patched connect-node", () => {
  const signals: AbortSignal[] = [];
  const server: Http2Server = createServer((req, res) => {
    signals.push(universalRequestFromNodeRequest(req, res, undefined, undefined).signal);
    res.end();
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("aborts a finished HTTP/2 request's signal with one shared AbortError", async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const session = h2connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      for (let i = 0; i < 2; i++) {
        const stream = session.request({ ":method": "POST", ":path": "/" });
        stream.end();
        stream.resume();
        await new Promise((resolve) => stream.on("close", resolve));
      }
    } finally {
      session.close();
    }
    await expect.poll(() => signals.filter((s) => s.aborted).length).toBe(2);
    expectOneSharedAbortError(signals.map((s) => s.reason as unknown));
  });
});
