// CALL_TIMEOUT_MS without a socket: the service's own time for a call, on top of
// each dependency request's bound. A call whose requests each answer within
// their bound, but together take longer, answers Unavailable when the call's
// time runs out; a client stream's clock runs only while the service is not
// waiting for the caller; the caller's shorter deadline still wins.
import { describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { runClassified } from "../../src/db/driver-errors.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";
import { createLogger } from "../../src/observability/logger.js";

const CALL_MS = 400;
const QUERY_BOUND_MS = 1_000;

/** A database operation that answers after `ms`, within its bound. */
const query = (ms: number) => runClassified(() => sleep(ms, "row"), (e) => e, QUERY_BOUND_MS);

function serviceWith(impl: Parameters<typeof createRouterTransport>[0]) {
  const transport = createRouterTransport(impl, { router: { interceptors: [rpcBoundary(createLogger("silent"), { callTimeoutMs: CALL_MS })] } });
  return createClient(FileService, transport);
}

async function timed(call: Promise<unknown>): Promise<{ ms: number; error?: ConnectError }> {
  const started = performance.now();
  try {
    await call;
    return { ms: performance.now() - started };
  } catch (e) {
    return { ms: performance.now() - started, error: ConnectError.from(e) };
  }
}

describe("CALL_TIMEOUT_MS on a unary call", () => {
  it("answers Unavailable when its requests, each within its bound, together pass the call's time, and starts no more of them", async () => {
    let started = 0;
    const client = serviceWith((router) =>
      router.service(FileService, {
        async getFile() {
          for (let i = 0; i < 4; i++) {
            started++;
            await query(250); // 4 × 250 ms: each well within its 1 s bound
          }
          return {};
        },
      }),
    );
    const { ms, error } = await timed(client.getFile({ fileId: "f" }));
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("database did not answer within the call's time limit, retry later");
    expect(ms).toBeGreaterThanOrEqual(CALL_MS - 20);
    expect(ms).toBeLessThan(900); // all four would take 1 s
    await sleep(300);
    expect(started).toBe(2); // the second was cut short; no third began
  });

  it("leaves a call that fits alone, and the caller's shorter deadline still answers DeadlineExceeded", async () => {
    const client = serviceWith((router) =>
      router.service(FileService, {
        async getFile() {
          await query(100);
          await query(100);
          return {};
        },
        async batchGetFiles() {
          await query(5_000);
          return {};
        },
      }),
    );
    expect((await timed(client.getFile({ fileId: "f" }))).error).toBeUndefined();
    const { ms, error } = await timed(client.batchGetFiles({ fileIds: ["f"] }, { timeoutMs: 150 }));
    expect(error?.code).toBe(Code.DeadlineExceeded);
    expect(ms).toBeLessThan(CALL_MS);
  });
});

describe("CALL_TIMEOUT_MS on a client stream", () => {
  /** The metadata, then `chunks` chunks `gapMs` apart. */
  async function* slowSender(chunks: number, gapMs: number) {
    yield { payload: { case: "metadata" as const, value: { filename: "a.png" } } };
    for (let i = 0; i < chunks; i++) {
      await sleep(gapMs);
      yield { payload: { case: "chunk" as const, value: new Uint8Array(16) } };
    }
  }

  it("does not count the time spent waiting for a slow sender, but counts from its last message", async () => {
    let received = 0;
    let afterLast = 0;
    const client = serviceWith((router) =>
      router.service(FileService, {
        async uploadFileStream(messages) {
          for await (const _ of messages) {
            received++;
            await query(50); // the service's own work per message: well inside the call's time
          }
          const started = performance.now();
          try {
            await query(800); // within its 1 s bound, but twice the call's time
          } finally {
            afterLast = performance.now() - started;
          }
          return {};
        },
      }),
    );
    // 3 gaps of 500 ms, each longer than the call's time: the stream lasts about 1.5 s.
    const { error } = await timed(client.uploadFileStream(slowSender(3, 500)));
    expect(received).toBe(4);
    expect(error?.code).toBe(Code.Unavailable);
    // Cut at the call's time after the end of the stream: had the clock run from the start, the
    // per-message work would have been cut long before the last message.
    expect(afterLast).toBeGreaterThan(CALL_MS - 50);
    expect(afterLast).toBeLessThan(700);
  });

  it("cuts a stream whose service stops reading (a stalled dependency behind it) at the call's time after the last message", async () => {
    const client = serviceWith((router) =>
      router.service(FileService, {
        async uploadFileStream(messages) {
          for await (const _ of messages) await query(900); // each within its bound; the sender is kept waiting
          return {};
        },
      }),
    );
    const { ms, error } = await timed(client.uploadFileStream(slowSender(3, 0)));
    expect(error?.code).toBe(Code.Unavailable);
    expect(ms).toBeLessThan(900); // the first message's work alone would take 900 ms
  });
});
