// The README's event examples, run as printed (environment aside): the amqplib
// consumer a backend would start from, and the webhook receiver, fed by the
// service's own sinks.
import { randomBytes, randomUUID } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "amqplib";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileEventSchema, FileEventType, FileStatus, type FileEvent } from "../../gen/file/v1/file_service_pb.js";
import { connectRabbit } from "../../src/events/rabbitmq.js";
import { webhookSinks } from "../../src/events/webhooks.js";
import { createLogger } from "../../src/observability/logger.js";
import { RABBITMQ_URL } from "../support/broker.js";
import { freePort, REPO_ROOT } from "../support/service-process.js";

const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  // npx → tsx → node: the whole group, or the example outlives the test.
  for (const child of children.splice(0)) if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});

/** `npx tsx examples/<name>.ts` from the repository root, its output collected. */
function runExample(name: string, env: Record<string, string>) {
  const child = spawn("npx", ["tsx", `examples/${name}.ts`], { cwd: REPO_ROOT, env: { ...process.env, ...env }, detached: true });
  children.push(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return {
    output: () => output,
    async waitFor(pattern: RegExp, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const event = (type: FileEventType, fileId: string, status: FileStatus): FileEvent =>
  create(FileEventSchema, {
    eventId: randomUUID(),
    type,
    occurredAt: timestampFromDate(new Date()),
    ownerId: "owner-examples",
    fileId,
    file: { id: fileId, status, variants: type === FileEventType.PROCESSED ? [{ name: "thumb" }, { name: "large" }] : [] },
  });

describe("examples/events-consumer.ts", () => {
  it("prints each event of the exchange once, even when it is delivered twice", async () => {
    const exchange = `test.file.events.${randomUUID()}`;
    const queue = `test.consumer.${randomUUID()}`;
    const consumer = runExample("events-consumer", { RABBITMQ_URL, RABBITMQ_EXCHANGE: exchange, QUEUE: queue });
    await consumer.waitFor(/consuming/);
    const rabbit = connectRabbit({ url: RABBITMQ_URL, exchange, log: createLogger("silent") });
    cleanups.push(async () => {
      await rabbit.close();
      const admin = await connect(RABBITMQ_URL);
      const channel = await admin.createChannel();
      await channel.deleteQueue(queue);
      await channel.deleteExchange(exchange);
      await admin.close();
    });
    await rabbit.waitForConnect();
    const fileId = randomUUID();
    const processed = event(FileEventType.PROCESSED, fileId, FileStatus.UPLOADED);
    for (const e of [event(FileEventType.UPLOADED, fileId, FileStatus.UPLOADED), processed, processed, event(FileEventType.DELETED, fileId, FileStatus.DELETED)]) {
      await rabbit.sink.deliver(e);
    }
    await consumer.waitFor(/file\.deleted/);
    const lines = consumer.output().split("\n").filter((l) => l.startsWith("file."));
    expect(lines).toEqual([
      `file.uploaded ${fileId} UPLOADED UPLOADED `,
      `file.processed ${fileId} PROCESSED UPLOADED thumb,large`,
      `file.deleted ${fileId} DELETED DELETED `,
    ]);
  }, 60_000);
});

describe("examples/webhook-receiver.ts", () => {
  it("accepts the service's signed events and refuses anyone else's", async () => {
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    const port = await freePort();
    const receiver = runExample("webhook-receiver", { WEBHOOK_SECRET: secret, PORT: String(port) });
    await receiver.waitFor(/listening/);
    const url = `http://127.0.0.1:${port}/hooks/files`;
    const sent = event(FileEventType.PROCESSED, randomUUID(), FileStatus.UPLOADED);
    await webhookSinks([url], { secret }).at(0)!.deliver(sent);
    await receiver.waitFor(new RegExp(`${sent.eventId} PROCESSED ${sent.fileId}`));
    const forged = webhookSinks([url], { secret: `whsec_${randomBytes(24).toString("base64")}` }).at(0)!;
    await expect(forged.deliver(event(FileEventType.DELETED, randomUUID(), FileStatus.DELETED))).rejects.toMatchObject({ status: 401 });
  }, 60_000);
});
