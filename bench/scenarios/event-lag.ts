// Scenario 10: how long an event takes from its commit to a consumer, under
// load, and what a broker outage does to events. The service runs from its real
// entry point on MariaDB, S3 and RabbitMQ (through a TCP proxy this scenario
// can cut); a consumer bound to the exchange records, per event, the moment it
// arrived minus the event's occurred_at (its commit). Load: closed-loop
// clients each doing GenerateUploadURLs → PUT → ConfirmUpload (one `uploaded`
// event per file). Each round: a load window, then a window with the broker
// cut for OUTAGE_MS while the load goes on, then the drain after it returns.
import { randomUUID } from "node:crypto";
import { connect } from "amqplib";
import { decodeEvent } from "../../src/events/file-event.js";
import { startTcpProxy } from "../../test/support/tcp-proxy.js";
import { fileSpec, pngLikeBytes, putUpload } from "../../test/support/upload.js";
import { RABBITMQ_URL } from "../../test/support/broker.js";
import { alternate, report, SMOKE, summarize } from "../lib/measure.js";
import { startStack } from "../lib/stack.js";

const CLIENTS = SMOKE ? 2 : 16;
const LOAD_MS = SMOKE ? 1_000 : 8_000;
const OUTAGE_MS = SMOKE ? 500 : 5_000;
const exchange = `bench.file.events.${randomUUID()}`;
const proxy = await startTcpProxy(Number(new URL(RABBITMQ_URL).port || 5672));
const stack = await startStack({
  RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
  RABBITMQ_EXCHANGE: exchange,
  PROCESSING_CONCURRENCY: "0", // upload events only: processing would compete for the cores
  TASK_RETRY_BASE_MS: "200",
  TASK_RETRY_CAP_MS: "1000",
});
const admin = await connect(RABBITMQ_URL);
// A broker-side close (a cut in a neighbouring test) must not surface as an unhandled error.
admin.on("error", () => undefined);
const channel = await admin.createChannel();
await channel.assertExchange(exchange, "topic", { durable: true });
const { queue } = await channel.assertQueue("", { exclusive: true });
await channel.bindQueue(queue, exchange, "file.#");
const arrived = new Map<string, number>(); // file id → lag in ms
await channel.consume(
  queue,
  (m) => {
    if (!m) return;
    const e = decodeEvent(m.content);
    const at = e.occurredAt ? Number(e.occurredAt.seconds) * 1000 + e.occurredAt.nanos / 1e6 : Date.now();
    if (!arrived.has(e.fileId)) arrived.set(e.fileId, Date.now() - at);
  },
  { noAck: true },
);

const bytes = pngLikeBytes(2048);
const extra: Record<string, number> = {};
/** Confirms files for `ms` with CLIENTS closed-loop clients; the ids confirmed. */
async function load(ms: number): Promise<string[]> {
  const until = Date.now() + ms;
  const confirmed: string[] = [];
  const refused: string[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = stack.client();
      while (Date.now() < until) {
        const { uploads } = await client.generateUploadURLs({ ownerId: "bench-events", files: [fileSpec(bytes)] });
        await putUpload(uploads[0]!, bytes);
        const { failures } = await client.confirmUpload({ ownerId: "bench-events", fileIds: [uploads[0]!.fileId] });
        // Only a confirmed file makes an event (a refused one stays pending).
        if (failures.length === 0) confirmed.push(uploads[0]!.fileId);
        else refused.push(failures[0]!.reason);
      }
    }),
  );
  if (refused.length > 0) extra["confirms refused (not counted)"] = (extra["confirms refused (not counted)"] ?? 0) + refused.length;
  return confirmed;
}

async function allArrived(ids: readonly string[], timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (ids.some((id) => !arrived.has(id))) {
    if (performance.now() - start > timeoutMs) {
      const metrics = await (await fetch(`${stack.httpUrl}/metrics`)).text();
      const outbox = metrics.split("\n").filter((l) => /^file_service_(tasks|outbox_lag|events_)/.test(l));
      const missing = ids.filter((id) => !arrived.has(id));
      const mysql = await import("mysql2/promise");
      const db = await mysql.createConnection(stack.backends.db.url);
      const [files] = await db.query("SELECT id, status, processing_status, created_at, uploaded_at FROM files WHERE id IN (?)", [missing]);
      const [tasks] = await db.query("SELECT * FROM tasks");
      await db.end();
      throw new Error(`${missing.length} events never arrived: ${JSON.stringify(files)} tasks ${JSON.stringify(tasks)} seen ${arrived.size}; the outbox:\n${outbox.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - start;
}

const p = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
try {
  const samples = await alternate([
    {
      name: "commit → consumer, p99 ms (broker up)",
      run: async () => {
        const ids = await load(LOAD_MS);
        await allArrived(ids, 30_000);
        const lags = ids.map((id) => arrived.get(id)!);
        extra["events per round (broker up)"] = ids.length;
        extra["p50 ms (broker up)"] = p(lags, 0.5);
        extra["max ms (broker up)"] = Math.max(...lags);
        return p(lags, 0.99);
      },
    },
    {
      name: `drain after a ${OUTAGE_MS} ms broker outage, ms`,
      run: async () => {
        proxy.cut();
        const ids = await load(OUTAGE_MS);
        proxy.restore();
        const drain = await allArrived(ids, 60_000);
        extra["events queued during the outage"] = ids.length;
        extra["events lost"] = ids.filter((id) => !arrived.has(id)).length;
        return drain;
      },
    },
  ]);
  const result = summarize(
    { scenario: "event-lag", unit: "ms", higherIsBetter: false, baseline: "commit → consumer, p99 ms (broker up)", goal: "report (outbox lag under load; no event lost in an outage)" },
    samples,
  );
  await report({ ...result, extra });
} finally {
  await channel.deleteExchange(exchange).catch(() => undefined);
  await admin.close().catch(() => undefined);
  await stack.stop();
  await proxy.close();
}
