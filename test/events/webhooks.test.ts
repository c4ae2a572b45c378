// Webhook sinks against a receiver in the test: what a consumer gets (the
// event's protobuf JSON, signed per Standard Webhooks, verified here with the
// same library a consumer would use), and what a refusal or a silent endpoint
// does to delivery.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { create, fromJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileEventSchema, FileEventType } from "../../gen/file/v1/file_service_pb.js";
import { webhookSinks, WebhookRefusedError } from "../../src/events/webhooks.js";

const secret = `whsec_${randomBytes(24).toString("base64")}`;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A receiver answering each POST with the next status of `statuses` (the last one repeats); "hang" never answers. */
async function receiver(statuses: Array<number | "hang">): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      if (status !== "hang") res.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/files`, received };
}

const event = () =>
  create(FileEventSchema, {
    eventId: randomUUID(),
    type: FileEventType.PROCESSED,
    occurredAt: timestampFromDate(new Date("2026-12-05T10:00:00.123Z")),
    ownerId: "owner-hooks",
    fileId: randomUUID(),
    file: { filename: "Ünïcode.png", blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj" },
  });

describe("webhook sinks", () => {
  it("POST the event's protobuf JSON, signed so the consumer's Standard Webhooks library verifies it", async () => {
    const hook = await receiver([204]);
    const [sink] = webhookSinks([hook.url], { secret });
    const sent = event();
    await sink!.deliver(sent);

    const { headers, body } = hook.received[0]!;
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["webhook-id"]).toBe(sent.eventId);
    // Throws if the signature, id or timestamp do not match the body.
    new Webhook(secret).verify(body, headers as Record<string, string>);
    expect(fromJsonString(FileEventSchema, body)).toEqual(sent);
    expect(() => new Webhook(`whsec_${randomBytes(24).toString("base64")}`).verify(body, headers as Record<string, string>)).toThrow();
  });

  it("treat a non-2xx answer as not delivered, naming the status and never the signature", async () => {
    const hook = await receiver([500, 500, 200]);
    const [sink] = webhookSinks([hook.url], { secret });
    const sent = event();
    for (const attempt of [1, 2]) {
      const error = await sink!.deliver(sent).catch((e: unknown) => e);
      expect(error, `attempt ${attempt}`).toBeInstanceOf(WebhookRefusedError);
      expect((error as WebhookRefusedError).status).toBe(500);
      expect(String((error as Error).message)).not.toContain(String(hook.received[0]!.headers["webhook-signature"]));
    }
    await sink!.deliver(sent);
    // Each attempt carries the same event id: the consumer's dedup key.
    expect(hook.received.map((r) => r.headers["webhook-id"])).toEqual([sent.eventId, sent.eventId, sent.eventId]);
  });

  it("give up on an endpoint that does not answer within the timeout", async () => {
    const hook = await receiver(["hang"]);
    const [sink] = webhookSinks([hook.url], { secret, timeoutMs: 300 });
    const started = Date.now();
    await expect(sink!.deliver(event())).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("are one per URL, each named for its endpoint", async () => {
    const [a, b] = [await receiver([200]), await receiver([503])];
    const sinks = webhookSinks([a.url, b.url], { secret });
    expect(sinks.map((s) => s.name)).toEqual([`webhook:${a.url}`, `webhook:${b.url}`]);
    const sent = event();
    const results = await Promise.allSettled(sinks.map((s) => s.deliver(sent)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
  });
});
