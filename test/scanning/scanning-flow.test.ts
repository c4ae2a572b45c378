// Malware scanning as users meet it, with a real clamd (our own signature for
// the EICAR test string, carried in a PNG text chunk so the file passes type
// sniffing): two instances on one database and bucket, presigned uploads and
// UploadFileStream, clamd stopped and started again; a webhook receiver sees
// the quarantined events.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { create, fromJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import {
  FileEventSchema,
  FileEventType,
  FileStatus,
  ProcessingStatus,
  ScanStatus,
  UploadMetadataSchema,
  type File,
  type UploadFileStreamRequestSchema,
} from "../../gen/file/v1/file_service_pb.js";
import { startBackends, startTestService, type Backends, type TestService } from "../support/service.js";
import { fileSpec, putUpload } from "../support/upload.js";
import { solid } from "../support/images.js";
import { rpcError } from "../support/rpc.js";
import { EICAR, EICAR_SIGNATURE, pngWithText, startClamd, type Clamd } from "../support/clamd.js";

let clamd: Clamd;
let backends: Backends;
let a: TestService;
let b: TestService;
let hook: Server;
/** The events both instances' webhook sinks delivered. */
const events: File[] = [];
const eventTypes: Array<[FileEventType, string]> = [];

beforeAll(async () => {
  [clamd, backends] = await Promise.all([startClamd(), startBackends()]);
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const event = fromJsonString(FileEventSchema, body);
      eventTypes.push([event.type, event.fileId]);
      if (event.file) events.push(event.file);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  const webhook = { WEBHOOK_URLS: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks`, WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("base64")}` };
  const env = { ...webhook, CLAMD_URL: clamd.url, CLAMD_STREAM_MAX_BYTES: String(clamd.streamMaxBytes), PROCESSING_POLL_MS: "100", PROCESSING_RETRY_BASE_MS: "200", HEALTH_INTERVAL_MS: "200" };
  [a, b] = await Promise.all([startTestService({ ...backends, env }), startTestService({ ...backends, env })]);
}, 90_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await clamd?.dispose();
  await backends?.stop();
  hook?.closeAllConnections();
  await new Promise((r) => hook?.close(r));
});

async function settled(svc: TestService, owner: string, id: string, done: (f: File) => boolean, ms = 20_000): Promise<File> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { file } = await svc.serviceClient().getFile({ ownerId: owner, fileId: id });
    if (file && done(file)) return file;
    if (Date.now() > deadline) throw new Error(`file ${id} did not settle: ${JSON.stringify(file)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** UploadFileStream's messages: the metadata, then the bytes in one chunk. */
async function* streamOf(ownerId: string, filename: string, bytes: Buffer): AsyncIterable<MessageInitShape<typeof UploadFileStreamRequestSchema>> {
  yield { payload: { case: "metadata", value: create(UploadMetadataSchema, { ownerId, filename, contentType: "image/png" }) } };
  yield { payload: { case: "chunk", value: bytes } };
}

async function presigned(owner: string, bytes: Buffer): Promise<string> {
  const client = a.serviceClient();
  const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
  await putUpload(uploads[0]!, bytes);
  await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
  return uploads[0]!.fileId;
}

describe("malware scanning", () => {
  it("scans each confirmed file once across two instances: clean ones are processed and served, marked ones quarantined and moved", async () => {
    const owner = `scan-${randomUUID()}`;
    const png = await solid(120, 80, "png");
    const clean = await Promise.all([presigned(owner, png), presigned(owner, await solid(90, 60, "png", "#aa0000"))]);
    const infected = await presigned(owner, pngWithText(png, "Comment", EICAR));
    // Fail closed: right after the confirm, not served.
    const early = await rpcError(a.serviceClient().getDownloadURLs({ ownerId: owner, fileIds: [infected] }));
    expect(early.code).toBe(Code.FailedPrecondition);

    for (const id of clean) {
      const file = await settled(a, owner, id, (f) => f.processingStatus === ProcessingStatus.COMPLETED);
      expect(file.scanStatus).toBe(ScanStatus.CLEAN);
      expect(file.scannedAt).toBeDefined();
      const { urls } = await b.serviceClient().getDownloadURLs({ ownerId: owner, fileIds: [id] });
      expect((await fetch(urls[0]!.url)).status).toBe(200);
    }
    const bad = await settled(b, owner, infected, (f) => f.status === FileStatus.QUARANTINED);
    expect(bad).toMatchObject({ scanStatus: ScanStatus.INFECTED, scanSignature: EICAR_SIGNATURE, variants: [] });
    const refused = await rpcError(b.serviceClient().getDownloadURLs({ ownerId: owner, fileIds: [infected] }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toBe(`file ${infected} is quarantined: the malware scan found ${EICAR_SIGNATURE}`);
    // Out of the served space, kept in quarantine.
    await expect.poll(() => a.objects.head(`files/${infected}/original`), { timeout: 10_000 }).toBeNull();
    expect(await a.objects.head(`quarantine/${infected}/original`)).not.toBeNull();
    // Its quarantined event reached the webhook, once, carrying the signature.
    const quarantinedEvents = async () => eventTypes.filter(([type, id]) => type === FileEventType.QUARANTINED && id === infected).length;
    await expect.poll(quarantinedEvents, { timeout: 10_000 }).toBe(1);
    expect(events.find((f) => f.id === infected && f.status === FileStatus.QUARANTINED)?.scanSignature).toBe(EICAR_SIGNATURE);
    // Listed for the owner by status.
    const listed = await a.serviceClient().listFiles({ ownerId: owner, status: FileStatus.QUARANTINED });
    expect(listed.files.map((f) => f.id)).toEqual([infected]);
    // Each file scanned once, whichever instance took it.
    const scans = async (svc: TestService) => {
      const text = await (await fetch(`${svc.httpUrl}/metrics`)).text();
      return [...text.matchAll(/^file_service_scans_total\{verdict="(\w+)"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
    };
    expect((await scans(a)) + (await scans(b))).toBe(3);
  });

  it("scans UploadFileStream before it answers: an infected upload answers OK, quarantined", async () => {
    const owner = `scan-stream-${randomUUID()}`;
    const marked = pngWithText(await solid(64, 64, "png"), "Comment", EICAR);
    const res = await a.serviceClient().uploadFileStream(streamOf(owner, "m.png", marked));
    expect(res.file).toMatchObject({ status: FileStatus.QUARANTINED, scanStatus: ScanStatus.INFECTED, scanSignature: EICAR_SIGNATURE });
    const id = res.file!.id;
    await expect.poll(() => a.objects.head(`quarantine/${id}/original`), { timeout: 10_000 }).not.toBeNull();
    // The move copies, then removes the source.
    await expect.poll(() => a.objects.head(`files/${id}/original`), { timeout: 10_000 }).toBeNull();
    await expect.poll(() => eventTypes.some(([type, e]) => type === FileEventType.QUARANTINED && e === id), { timeout: 10_000 }).toBe(true);
  });

  it("while clamd is down files wait unscanned and unserved, the service stays ready; they pass when it returns", async () => {
    const owner = `scan-down-${randomUUID()}`;
    await clamd.stop();
    try {
      const id = await presigned(owner, await solid(70, 50, "png", "#00aa00"));
      await new Promise((r) => setTimeout(r, 1_500));
      const waiting = (await a.serviceClient().getFile({ ownerId: owner, fileId: id })).file!;
      expect(waiting).toMatchObject({ status: FileStatus.UPLOADED, scanStatus: ScanStatus.PENDING });
      const refused = await rpcError(a.serviceClient().getDownloadURLs({ ownerId: owner, fileIds: [id] }));
      expect(refused.code).toBe(Code.FailedPrecondition);
      expect(refused.rawMessage).toBe(`file ${id} is not scanned yet: try again shortly`);
      const ready = await fetch(`${a.httpUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.stringify(await ready.json())).toContain("malware_scanner");
      expect(await (await fetch(`${a.httpUrl}/metrics`)).text()).toMatch(/^file_service_dependency_up\{dependency="malware_scanner"\} 0$/m);
      // Through the service, an upload cannot be scanned now: Unavailable, nothing kept.
      const unavailable = await rpcError(a.serviceClient().uploadFileStream(streamOf(owner, "s.png", await solid(30, 30, "png"))));
      expect(unavailable.code).toBe(Code.Unavailable);
      expect(unavailable.rawMessage).toBe("malware scanner is unavailable, retry later");

      await clamd.restart();
      const file = await settled(a, owner, id, (f) => f.processingStatus === ProcessingStatus.COMPLETED, 90_000);
      expect(file.scanStatus).toBe(ScanStatus.CLEAN);
    } finally {
      await clamd.restart().catch(() => undefined);
    }
  }, 120_000);
});
