// The scan's gate as callers meet it, in process with a scanner that judges
// by content: what GetDownloadURLs says per scan state (and with
// SCAN_ALLOW_UNSCANNED), ProcessFile refusing an unscannable file, an
// infected UploadFile answering OK quarantined, its bytes moved out of files/
// and its quarantined event delivered.
import { afterEach, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { FileEventType, FilePurpose, FileStatus, ScanStatus } from "../../gen/file/v1/file_service_pb.js";
import type { Scanner, ScanVerdict } from "../../src/scanning/scanner.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { fileSpec } from "../support/upload.js";
import { solid } from "../support/images.js";
import { rpcError } from "../support/rpc.js";

const MARK = "MARKED-AS-MALWARE";

/** Infected when the bytes carry MARK, "error" past `maxBytes`, clean otherwise. */
function contentScanner(maxBytes = Number.POSITIVE_INFINITY): Scanner {
  return {
    async scan(body, sizeBytes): Promise<ScanVerdict> {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
      if (sizeBytes > maxBytes) return { verdict: "error", reason: `the file (${sizeBytes} bytes) is larger than the scanner takes (${maxBytes} bytes)` };
      return Buffer.concat(chunks).includes(MARK) ? { verdict: "infected", signature: "Test.Marked" } : { verdict: "clean" };
    },
    async ping() {},
  };
}

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(scanner: Scanner, serveUnscanned = false): Promise<InProcess> {
  const started = await startInProcess({ deps: { scanner } });
  started.deps.settings.serveUnscanned = serveUnscanned;
  return started;
}

async function confirmed(p: InProcess, owner: string, bytes: Buffer): Promise<string> {
  const client = p.asService();
  const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
  await p.put(uploads[0]!, bytes);
  await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
  return uploads[0]!.fileId;
}

/** GetDownloadURLs serves `id` when `served`, else refuses it FailedPrecondition with `message`. */
async function expectServedOnlyIf(served: boolean, p: InProcess, id: string, message: string | RegExp): Promise<void> {
  const asked = p.asService().getDownloadURLs({ ownerId: "owner", fileIds: [id] });
  if (served) {
    expect((await asked).urls).toHaveLength(1);
    return;
  }
  const refused = await rpcError(asked);
  expect(refused.code).toBe(Code.FailedPrecondition);
  expect(refused.rawMessage).toMatch(message);
}

describe("the scan gate", () => {
  it("a confirmed file is pending its scan and not served; SCAN_ALLOW_UNSCANNED serves it", async () => {
    for (const serveUnscanned of [false, true]) {
      const p = (h = await start(contentScanner(), serveUnscanned));
      const id = await confirmed(p, "owner", await solid(40, 30, "png"));
      const { file } = await p.asService().getFile({ ownerId: "owner", fileId: id });
      expect(file?.scanStatus).toBe(ScanStatus.PENDING);
      await expectServedOnlyIf(serveUnscanned, p, id, `file ${id} is not scanned yet: try again shortly`);
      await p.close();
      h = undefined;
    }
  });

  it("UploadFile with infected bytes answers OK quarantined; the bytes leave files/, the event is delivered, the owner lists it", async () => {
    const p = (h = await start(contentScanner()));
    const png = await solid(40, 30, "png");
    const bytes = Buffer.concat([png, Buffer.from(MARK)]);
    const { file } = await p.asService().uploadFile({ ownerId: "owner", filename: "m.png", contentType: "image/png", purpose: FilePurpose.AVATAR, data: bytes });
    expect(file).toMatchObject({ status: FileStatus.QUARANTINED, scanStatus: ScanStatus.INFECTED, scanSignature: "Test.Marked", variants: [] });
    const id = file!.id;
    await p.runTasks();
    expect(await p.objects.head(`files/${id}/original`)).toBeNull();
    expect(await p.objects.head(`quarantine/${id}/original`)).not.toBeNull();
    const quarantined = p.events.filter((e) => e.fileId === id && e.type === FileEventType.QUARANTINED);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]!.file).toMatchObject({ status: FileStatus.QUARANTINED, scanSignature: "Test.Marked" });
    const refused = await rpcError(p.asService().getDownloadURLs({ ownerId: "owner", fileIds: [id] }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toBe(`file ${id} is quarantined: the malware scan found Test.Marked`);
    const listed = await p.asService().listFiles({ ownerId: "owner", status: FileStatus.QUARANTINED });
    expect(listed.files.map((f) => f.id)).toEqual([id]);
  });

  it("a file the scanner can never judge is not served, and says why; SCAN_ALLOW_UNSCANNED serves it", async () => {
    for (const serveUnscanned of [false, true]) {
      const p = (h = await start(contentScanner(10), serveUnscanned));
      const id = await confirmed(p, "owner", await solid(40, 30, "png"));
      await p.asService().processFile({ ownerId: "owner", fileId: id, options: { async: false } });
      const { file } = await p.asService().getFile({ ownerId: "owner", fileId: id });
      expect(file).toMatchObject({ scanStatus: ScanStatus.ERROR, scanError: expect.stringContaining("larger than the scanner takes") });
      // Nor is anything made of it on request.
      const again = await rpcError(p.asService().processFile({ ownerId: "owner", fileId: id, options: { async: false } }));
      expect(again.code).toBe(Code.FailedPrecondition);
      expect(again.rawMessage).toMatch(new RegExp(`^file ${id} could not be scanned for malware \\(.+\\): nothing is made of it$`));
      await expectServedOnlyIf(serveUnscanned, p, id, new RegExp(`^file ${id} could not be scanned for malware \\(the file \\(\\d+ bytes\\) is larger than the scanner takes \\(10 bytes\\)\\) and is not served$`));
      await p.close();
      h = undefined;
    }
  });
});
