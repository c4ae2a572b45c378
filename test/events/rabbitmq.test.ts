// The RabbitMQ sink and feed against the real broker (127.0.0.1:5672), each
// test on an exchange of its own: what a consumer bound to the exchange gets,
// what happens while the broker is cut off (a TCP proxy in front of it), and
// how one instance's events reach another instance's watchers.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { connect, type ChannelModel, type ConsumeMessage } from "amqplib";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileEventSchema, FileEventType, type FileEvent } from "../../gen/file/v1/file_service_pb.js";
import { connectRabbit, MESSAGE_TYPE, type RabbitLink } from "../../src/events/rabbitmq.js";
import { decodeEvent } from "../../src/events/file-event.js";
import { createChangeFeed } from "../../src/events/change-feed.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { createLogger } from "../../src/observability/logger.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

import { RABBITMQ_URL } from "../support/broker.js";
const log = createLogger("silent");
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function event(type: FileEventType, fileId = randomUUID()): FileEvent {
  return create(FileEventSchema, {
    eventId: randomUUID(),
    type,
    occurredAt: timestampFromDate(new Date("2026-12-05T10:00:00Z")),
    ownerId: "owner-events",
    fileId,
    file: { id: fileId, ownerId: "owner-events", filename: "a.png" },
  });
}

function link(url: string, exchange: string, options: { feed?: ReturnType<typeof createChangeFeed>; publishTimeoutMs?: number } = {}): RabbitLink {
  const l = connectRabbit({ url, exchange, log, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...options });
  cleanups.push(() => l.close());
  return l;
}

/** A consumer as a backend would bind one: its own queue on the exchange, every file event. */
async function consumer(exchange: string): Promise<{ messages: ConsumeMessage[]; admin: ChannelModel }> {
  const admin = await connect(RABBITMQ_URL);
  cleanups.push(() => admin.close());
  const channel = await admin.createChannel();
  await channel.assertExchange(exchange, "topic", { durable: true });
  const { queue } = await channel.assertQueue("", { exclusive: true });
  await channel.bindQueue(queue, exchange, "file.#");
  const messages: ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && messages.push(m), { noAck: true });
  cleanups.push(async () => {
    const c = await admin.createChannel();
    await c.deleteExchange(exchange);
  });
  return { messages, admin };
}

const until = async (check: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("the RabbitMQ sink", () => {
  it("publishes each event to the durable topic exchange: routing key, persistent, protobuf, confirmed", async () => {
    const exchange = `test.file.events.${randomUUID()}`;
    const { messages } = await consumer(exchange);
    const rabbit = link(RABBITMQ_URL, exchange);
    await rabbit.waitForConnect();
    const sent = [event(FileEventType.UPLOADED), event(FileEventType.PROCESSING_FAILED), event(FileEventType.DELETED)];
    for (const e of sent) await rabbit.sink.deliver(e);
    await until(() => messages.length === 3);
    expect(messages.map((m) => m.fields.routingKey)).toEqual(["file.uploaded", "file.processing_failed", "file.deleted"]);
    for (const [i, m] of messages.entries()) {
      expect(m.properties).toMatchObject({ contentType: "application/proto", type: MESSAGE_TYPE, messageId: sent[i]!.eventId, deliveryMode: 2 });
      expect(decodeEvent(m.content)).toEqual(sent[i]);
    }
  });

  it("fails fast while the broker is cut off, and delivers again, exchange declared anew, once it is back", async () => {
    const exchange = `test.file.events.${randomUUID()}`;
    const proxy: TcpProxy = await startTcpProxy(5672);
    cleanups.push(() => proxy.close());
    const rabbit = link(`amqp://guest:guest@127.0.0.1:${proxy.port}`, exchange, { publishTimeoutMs: 1_000 });
    await rabbit.waitForConnect();
    await rabbit.sink.deliver(event(FileEventType.UPLOADED));

    proxy.cut();
    await until(() => !rabbit.connected());
    const started = Date.now();
    const refused = await rabbit.sink.deliver(event(FileEventType.PROCESSED)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DependencyUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_500);

    // While it is away, the exchange disappears (a broker restored without it): it must be declared again.
    const admin = await connect(RABBITMQ_URL);
    cleanups.push(() => admin.close());
    await (await admin.createChannel()).deleteExchange(exchange);

    proxy.restore();
    await until(() => rabbit.connected(), 10_000);
    // A passive check: fails (404) unless the sink declared the exchange on reconnecting.
    await (await admin.createChannel()).checkExchange(exchange);
    const { messages } = await consumerOnExisting(admin, exchange);
    const after = event(FileEventType.PROCESSED);
    await rabbit.sink.deliver(after);
    await until(() => messages.length === 1);
    expect(messages[0]!.properties.messageId).toBe(after.eventId);
    cleanups.push(async () => (await admin.createChannel()).deleteExchange(exchange));
  });

  it("brings one instance's events to another instance's watchers through the broker", async () => {
    const exchange = `test.file.events.${randomUUID()}`;
    const feedA = createChangeFeed();
    const feedB = createChangeFeed();
    const a = link(RABBITMQ_URL, exchange, { feed: feedA });
    const b = link(RABBITMQ_URL, exchange, { feed: feedB });
    await Promise.all([a.waitForConnect(), b.waitForConnect()]);
    cleanups.push(async () => (await (await connect(RABBITMQ_URL)).createChannel()).deleteExchange(exchange));
    const seenByB: FileEvent[] = [];
    feedB.subscribe((e) => seenByB.push(e));
    const sent = event(FileEventType.PROCESSED);
    const started = Date.now();
    await a.sink.deliver(sent);
    await until(() => seenByB.length === 1, 1_000);
    expect(seenByB[0]).toEqual(sent);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

/** Binds a queue to the existing exchange on an existing connection (declaring nothing). */
async function consumerOnExisting(admin: ChannelModel, exchange: string) {
  const channel = await admin.createChannel();
  const { queue } = await channel.assertQueue("", { exclusive: true });
  await channel.bindQueue(queue, exchange, "file.#");
  const messages: ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && messages.push(m), { noAck: true });
  return { messages };
}
