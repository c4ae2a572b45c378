// The chaos clients: each runs, until told to stop, hangout's memory upload
// sequence (GenerateUploadURLs → PUT each → ConfirmUpload → GetFile → sometimes
// BatchDeleteFiles) or a streamed upload (UploadFileStream, with or without
// size_bytes), alternating between the instances, over gRPC with the dev client
// certificate. Nothing retries: the audit judges what one attempt leaves behind.
import { createHash, randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { FilePurpose, FileService, UploadMetadataSchema, UploadFileStreamRequestSchema, ConfirmFailureCode, type UploadFileStreamRequest } from "../../gen/file/v1/file_service_pb.js";
import { blackPng } from "../../test/support/images.js";
import type { Recorder } from "./record.js";

export interface Target {
  name: string;
  client: Client<typeof FileService>;
}

export interface WorkloadOptions {
  clients: number;
  /** Every call's own deadline (the client's timeout). */
  callTimeoutMs: number;
  /** Files per GenerateUploadURLs batch (the audit checks batches are whole). */
  batchSize: number;
}

const PNG = blackPng(2, 2);
/** A small PNG unique per call: random bytes after its end, which decoders ignore. */
const pngBytes = () => Buffer.concat([PNG, randomBytes(1024 + Math.floor(Math.random() * 7 * 1024))]);
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");

export async function runWorkload(targets: () => Target[], recorder: Recorder, options: WorkloadOptions, shouldStop: () => boolean): Promise<void> {
  const worker = async (w: number) => {
    for (let round = 0; !shouldStop(); round++) {
      const list = targets();
      const target = list[(w + round) % list.length]!;
      if (Math.random() < 0.7) await memorySequence(target, `chaos-p-${w}`, recorder, options);
      else await streamedUpload(target, `chaos-s-${w}`, recorder, options, round % 2 === 0);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, w) => worker(w)));
}

async function memorySequence(target: Target, ownerId: string, recorder: Recorder, options: WorkloadOptions): Promise<void> {
  const { client, name } = target;
  const opts = { timeoutMs: options.callTimeoutMs };
  const bodies = Array.from({ length: options.batchSize }, pngBytes);
  const generated = await recorder.call("GenerateUploadURLs", name, () =>
    client.generateUploadURLs(
      {
        ownerId,
        files: bodies.map((b, i) => ({ filename: `m${i}.png`, contentType: "image/png", sizeBytes: BigInt(b.length), md5: md5(b), purpose: FilePurpose.POST_ATTACHMENT })),
      },
      opts,
    ),
  );
  if (generated === undefined) return;
  const ids = generated.uploads.map((u) => u.fileId);
  ids.forEach((id) => recorder.known.add(id));
  recorder.batches.push({ kind: "generate", ids, ok: true });
  await Promise.all(
    generated.uploads.map((upload, i) =>
      recorder.put(name, () =>
        fetch(upload.url, { method: upload.method, headers: upload.headers, body: bodies[i], signal: AbortSignal.timeout(options.callTimeoutMs) }),
      ),
    ),
  );
  const confirmed = await recorder.call("ConfirmUpload", name, () => client.confirmUpload({ ownerId, fileIds: ids }, opts));
  if (confirmed === undefined) return;
  for (const f of confirmed.files) recorder.confirmed.add(f.id);
  for (const failure of confirmed.failures) recorder.confirmFailure(ConfirmFailureCode[failure.code] ?? String(failure.code));
  const live = confirmed.files.map((f) => f.id);
  if (live.length === 0) return;
  await recorder.call("GetFile", name, () => client.getFile({ ownerId, fileId: live[0]! }, opts));
  if (Math.random() < 0.3) {
    const answer = await recorder.call("BatchDeleteFiles", name, () => client.batchDeleteFiles({ ownerId, fileIds: live }, opts));
    const failed = new Set(answer?.failedIds ?? []);
    recorder.batches.push({ kind: "delete", ids: live, ok: answer !== undefined && failed.size === 0 });
    if (answer !== undefined) live.filter((id) => !failed.has(id)).forEach((id) => recorder.deleted.add(id));
  }
}

async function streamedUpload(target: Target, ownerId: string, recorder: Recorder, options: WorkloadOptions, declareSize: boolean): Promise<void> {
  const bytes = pngBytes();
  async function* messages(): AsyncGenerator<UploadFileStreamRequest> {
    const metadata = create(UploadMetadataSchema, {
      ownerId,
      filename: "s.png",
      contentType: "image/png",
      purpose: FilePurpose.POST_ATTACHMENT,
      ...(declareSize ? { sizeBytes: BigInt(bytes.length) } : {}),
    });
    yield create(UploadFileStreamRequestSchema, { payload: { case: "metadata", value: metadata } });
    for (let i = 0; i < bytes.length; i += 2048) {
      yield create(UploadFileStreamRequestSchema, { payload: { case: "chunk", value: bytes.subarray(i, i + 2048) } });
    }
  }
  const answer = await recorder.call("UploadFileStream", target.name, () => target.client.uploadFileStream(messages(), { timeoutMs: options.callTimeoutMs }));
  if (answer?.file !== undefined) {
    recorder.known.add(answer.file.id);
    recorder.confirmed.add(answer.file.id);
  }
}
