// WatchFiles from a real browser (Debian's chromium, driven by playwright-core)
// with connect-web's Connect transport: the page watches a file on instance A,
// while instance B (sharing the database and the broker) confirms, processes
// and publishes. A runs no worker at all, so what the page sees crossed from
// B's outbox through RabbitMQ to A's stream.
import { createServer, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { connect } from "amqplib";
import { FileEventType, ProcessingStatus } from "../../gen/file/v1/file_service_pb.js";
import { startBackends, startTestService, type Backends, type TestService } from "../support/service.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { photo } from "../support/images.js";
import { RABBITMQ_URL } from "../support/broker.js";
import type { WatchPage } from "./browser/watch-page.js";


const exchange = `test.file.events.${randomUUID()}`;
let backends: Backends;
let page: Server;
let origin: string;
let browser: Browser;
let watched: TestService; // A: serves the watch, runs no worker
let worker: TestService; // B: where everything happens

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [new URL("./browser/watch-page.ts", import.meta.url).pathname],
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  page = createServer((req, res) => {
    if (req.url === "/app.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script type="module" src="/app.js"></script>');
  });
  await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(page.address() as { port: number }).port}`;

  backends = await startBackends();
  const env = { RABBITMQ_URL, RABBITMQ_EXCHANGE: exchange, CORS_ORIGINS: origin, PROCESSING_POLL_MS: "100" };
  watched = await startTestService({ ...backends, env: { ...env, PROCESSING_CONCURRENCY: "0", TASK_CONCURRENCY: "0" } });
  worker = await startTestService({ ...backends, env });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([watched?.stop(), worker?.stop()]);
  const admin = await connect(RABBITMQ_URL);
  // A broker-side close (a cut in a neighbouring test) must not surface as an unhandled error.
  admin.on("error", () => undefined);
  await (await admin.createChannel()).deleteExchange(exchange).catch(() => undefined);
  await admin.close();
  await new Promise((r) => page?.close(r));
  await backends?.stop();
});

describe("WatchFiles in a browser (connect-web)", () => {
  it("receives the processed File within a second of processing finishing, made on another instance", async () => {
    const owner = `browser-${randomUUID()}`;
    const bytes = await photo(640, 480);
    const { uploads } = await worker.serviceClient().generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes, "b.jpg", "image/jpeg")] });
    const id = uploads[0]!.fileId;
    await putUpload(uploads[0]!, bytes);

    const tab = await browser.newPage();
    await tab.goto(origin);
    await tab.waitForFunction(() => typeof (globalThis as unknown as WatchPage).watch === "function");
    await tab.evaluate(([url, token, fileId]) => (globalThis as unknown as WatchPage).watch(url!, token!, fileId!), [
      watched.httpUrl,
      await watched.userToken(owner),
      id,
    ]);
    // The current state first: the stream is open before the change.
    await tab.waitForFunction(
      () => (globalThis as unknown as WatchPage).seen.length > 0 || (globalThis as unknown as WatchPage).watchError !== undefined,
      undefined,
      { timeout: 10_000 },
    );
    expect(await tab.evaluate(() => (globalThis as unknown as WatchPage).watchError)).toBeUndefined();

    await worker.serviceClient().confirmUpload({ ownerId: owner, fileIds: [id] });
    await tab.waitForFunction(
      (processed) =>
        (globalThis as unknown as WatchPage).seen.some((s) => s.type === processed) || (globalThis as unknown as WatchPage).watchError !== undefined,
      FileEventType.PROCESSED,
      { timeout: 20_000 },
    );
    const seen = await tab.evaluate(() => (globalThis as unknown as WatchPage).seen);
    expect(seen.map((s) => s.type)).toEqual([FileEventType.CURRENT, FileEventType.UPLOADED, FileEventType.PROCESSED]);
    const processed = seen.at(-1)!;
    expect(processed.processingStatus).toBe(ProcessingStatus.COMPLETED);
    expect(processed.variants).toBeGreaterThan(0);
    // occurred_at is when processing's result was committed (same machine, same clock).
    expect(processed.receivedAtMs - processed.occurredAtMs).toBeLessThan(1_000);
    await tab.close();
  });
});
