// Events from real changes, delivered from the outbox as consumers see them:
// a consumer bound to the real RabbitMQ exchange, and a webhook endpoint that
// verifies every signature and refuses the first deliveries. The broker is
// reached through a TCP proxy the test cuts mid-sequence; a second instance
// shares the outbox.
import { createServer, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type ChannelModel, type ConsumeMessage } from "amqplib";
import { Webhook } from "standardwebhooks";
import { fromJson } from "@bufbuild/protobuf";
import { FileEventSchema, FileEventType, type FileEvent } from "../../gen/file/v1/file_service_pb.js";
import { decodeEvent } from "../../src/events/file-event.js";
import { MESSAGE_TYPE } from "../../src/events/rabbitmq.js";
import { startBackends, startTestService, type Backends, type TestService } from "../support/service.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { photo } from "../support/images.js";
import { RABBITMQ_URL } from "../support/broker.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const exchange = `test.file.events.${randomUUID()}`;
let backends: Backends;
let broker: TcpProxy;
let admin: ChannelModel;
const messages: ConsumeMessage[] = [];
let webhook: Server;
let webhookUrl: string;
/** Every POST the endpoint got: its id, whether the signature held, what it answered. */
const posts: Array<{ id: string; verified: boolean; status: number; event?: FileEvent }> = [];
const refuseFirst = new Map<string, number>(); // event id → refusals left
let svc: TestService;
let second: TestService;

beforeAll(async () => {
  backends = await startBackends();
  broker = await startTcpProxy(5672);
  admin = await connect(RABBITMQ_URL);
  // A broker-side close (a cut in a neighbouring test) must not surface as an unhandled error.
  admin.on("error", () => undefined);
  const channel = await admin.createChannel();
  await channel.assertExchange(exchange, "topic", { durable: true });
  const { queue } = await channel.assertQueue("", { exclusive: true });
  await channel.bindQueue(queue, exchange, "file.#");
  await channel.consume(queue, (m) => m && messages.push(m), { noAck: true });

  const verifier = new Webhook(SECRET);
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const id = String(req.headers["webhook-id"]);
      let event: FileEvent | undefined;
      try {
        verifier.verify(body, req.headers as Record<string, string>);
        event = fromJson(FileEventSchema, JSON.parse(body));
      } catch {
        posts.push({ id, verified: false, status: 400 });
        return res.writeHead(400).end();
      }
      // The first event's first two deliveries are refused.
      if (posts.filter((p) => p.verified).length === 0) refuseFirst.set(id, 2);
      const left = refuseFirst.get(id) ?? 0;
      const status = left > 0 ? 500 : 204;
      if (left > 0) refuseFirst.set(id, left - 1);
      posts.push({ id, verified: true, status, event });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hooks`;
  const env = {
    RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${broker.port}`,
    RABBITMQ_EXCHANGE: exchange,
    WEBHOOK_URLS: webhookUrl,
    WEBHOOK_SECRET: SECRET,
    TASK_RETRY_BASE_MS: "100",
    TASK_RETRY_CAP_MS: "400",
    PROCESSING_POLL_MS: "100",
  };
  svc = await startTestService({ ...backends, env });
  second = await startTestService({ ...backends, env });
}, 60_000);

afterAll(async () => {
  await Promise.all([svc?.stop(), second?.stop()]);
  const c = await admin?.createChannel();
  await c?.deleteExchange(exchange).catch(() => undefined);
  await admin?.close();
  await broker?.close();
  await new Promise((r) => webhook?.close(r));
  await backends?.stop();
});

const until = async (check: () => boolean, what: string, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const ofFile = (fileId: string) => messages.filter((m) => decodeEvent(m.content).fileId === fileId);

describe("events from the outbox", () => {
  it("a consumer sees upload → processed → deleted in order, each once, while the broker is cut mid-sequence", async () => {
    const owner = `events-${randomUUID()}`;
    const bytes = await photo(320, 240);
    const client = svc.serviceClient();
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes, "a.jpg", "image/jpeg")] });
    const id = uploads[0]!.fileId;
    await putUpload(uploads[0]!, bytes);

    broker.cut(); // events queue in the outbox meanwhile
    await client.confirmUpload({ ownerId: owner, fileIds: [id] });
    await until(() => posts.some((p) => p.event?.type === FileEventType.PROCESSED && p.event.fileId === id), "the processed webhook");
    expect(ofFile(id)).toEqual([]);
    broker.restore();

    await until(() => ofFile(id).length === 2, "uploaded and processed on the broker");
    await second.serviceClient().deleteFile({ ownerId: owner, fileId: id }); // another instance's change, same outbox
    await until(() => ofFile(id).length === 3, "deleted on the broker");
    await new Promise((r) => setTimeout(r, 500)); // nothing more comes

    const got = ofFile(id);
    expect(got.map((m) => m.fields.routingKey)).toEqual(["file.uploaded", "file.processed", "file.deleted"]);
    const events = got.map((m) => decodeEvent(m.content));
    expect(events.map((e) => e.type)).toEqual([FileEventType.UPLOADED, FileEventType.PROCESSED, FileEventType.DELETED]);
    expect(got.map((m) => m.properties.messageId)).toEqual(events.map((e) => e.eventId));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
    for (const m of got) {
      expect(m.properties).toMatchObject({ type: MESSAGE_TYPE, contentType: "application/proto", deliveryMode: 2 });
    }
    expect(events.every((e) => e.ownerId === owner && e.file?.id === id)).toBe(true);
    expect(events[1]!.file?.variants.length).toBeGreaterThan(0);
  });

  it("a webhook endpoint gets every event signed, in order per file, and the refused one again until it answers 2xx", async () => {
    await until(() => posts.filter((p) => p.status === 204).length >= 3, "three accepted webhooks");
    expect(posts.every((p) => p.verified)).toBe(true);
    const first = posts[0]!;
    // Refused twice (500), then accepted: the same event id each time.
    expect(posts.filter((p) => p.id === first.id).map((p) => p.status)).toEqual([500, 500, 204]);
    const accepted = posts.filter((p) => p.status === 204).map((p) => p.event!);
    const byFile = new Map<string, FileEventType[]>();
    for (const e of accepted) byFile.set(e.fileId, [...(byFile.get(e.fileId) ?? []), e.type]);
    for (const types of byFile.values()) {
      expect(types).toEqual([FileEventType.UPLOADED, FileEventType.PROCESSED, FileEventType.DELETED].slice(0, types.length));
    }
    expect(await svc.files.listTasks({ status: "failed", limit: 10 })).toEqual([]);
  });
});
