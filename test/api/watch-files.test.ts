// WatchFiles over the wire, across instances: a change published by another
// instance (through the real RabbitMQ broker) reaches a watcher connected here,
// over gRPC with mTLS and over Connect with a JWT, within a second.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "amqplib";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FileEventType, FileService, type WatchFilesResponse } from "../../gen/file/v1/file_service_pb.js";
import { connectRabbit, type RabbitLink } from "../../src/events/rabbitmq.js";
import { toFileEvent } from "../../src/files/file-message.js";
import { createLogger } from "../../src/observability/logger.js";
import { bearer, startTestService, type TestService } from "../support/service.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { RABBITMQ_URL } from "../support/broker.js";

const exchange = `test.file.events.${randomUUID()}`;
let svc: TestService;
let otherInstance: RabbitLink;
beforeAll(async () => {
  svc = await startTestService({ env: { RABBITMQ_URL, RABBITMQ_EXCHANGE: exchange, WATCH_HEARTBEAT_MS: "300" } });
  otherInstance = connectRabbit({ url: RABBITMQ_URL, exchange, log: createLogger("silent") });
  await otherInstance.waitForConnect();
});
afterAll(async () => {
  await otherInstance?.close();
  await svc?.stop();
  const admin = await connect(RABBITMQ_URL);
  // A broker-side close (a cut in a neighbouring test) must not surface as an unhandled error.
  admin.on("error", () => undefined);
  await (await admin.createChannel()).deleteExchange(exchange).catch(() => undefined);
  await admin.close();
});

const owner = "owner-wire-watch";

/** Publishes PROCESSED events for the file from the other instance until the watch shows one; the last one's latency. */
async function latencyOfNextChange(stream: AsyncIterator<WatchFilesResponse>, fileId: string): Promise<number> {
  const [record] = await svc.files.findByIds(owner, [fileId]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const eventId = randomUUID();
    const sentAt = Date.now();
    await otherInstance.sink.deliver(toFileEvent(FileEventType.PROCESSED, record!, eventId, new Date()));
    // Heartbeats may come first; a change published before the service's consumer was bound never comes.
    for (;;) {
      const next = await Promise.race([stream.next(), new Promise<null>((r) => setTimeout(() => r(null), 1_000))]);
      if (next === null) break;
      const { value } = next as IteratorResult<WatchFilesResponse>;
      if (value?.kind.case === "event" && value.kind.value.eventId === eventId) return Date.now() - sentAt;
    }
    if (Date.now() > deadline) throw new Error("no change reached the watcher");
  }
}

async function reserve(client: ReturnType<typeof svc.serviceClient>) {
  const bytes = pngLikeBytes(64);
  const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
  return uploads[0]!.fileId;
}

describe("WatchFiles across instances", () => {
  it("over gRPC with mTLS: the current file first, then another instance's change within a second", async () => {
    const client = svc.serviceClient();
    const fileId = await reserve(client);
    const abort = new AbortController();
    const stream = client.watchFiles({ ownerId: owner, fileIds: [fileId] }, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = (await stream.next()).value as WatchFilesResponse;
    expect(first.kind.case === "event" && first.kind.value.type).toBe(FileEventType.CURRENT);
    expect(first.kind.case === "event" && first.kind.value.file?.id).toBe(fileId);
    expect(await latencyOfNextChange(stream, fileId)).toBeLessThan(1_000);
    abort.abort();
  });

  it("over Connect with a user's JWT (as connect-web streams it): another instance's change within a second", async () => {
    const fileId = await reserve(svc.serviceClient());
    const user = createClient(
      FileService,
      createConnectTransport({ baseUrl: svc.httpUrl, httpVersion: "1.1", interceptors: [bearer(await svc.userToken(owner))] }),
    );
    const abort = new AbortController();
    const stream = user.watchFiles({ fileIds: [fileId] }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect(((await stream.next()).value as WatchFilesResponse).kind.case).toBe("event");
    expect(await latencyOfNextChange(stream, fileId)).toBeLessThan(1_000);
    abort.abort();
  });
});
