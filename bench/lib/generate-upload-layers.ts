// What each step of a GenerateUploadURLs of 10 files costs, in process: the
// service's own code for the batch (validation, ids, presigning with its
// timing, the idempotency fingerprint, the response and its encoding), each run
// many times in a row. The transport and the database are not in these figures.
//
//   npx tsx bench/lib/generate-upload-layers.ts      prints the figures as JSON
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { v7 as uuidv7 } from "uuid";
import { FilePurpose, GenerateUploadURLsResponseSchema } from "../../gen/file/v1/file_service_pb.js";
import { checkFileToUpload } from "../../src/files/upload-rules.js";
import { newFileId } from "../../src/files/file-ids.js";
import { fingerprintOf } from "../../src/files/idempotency.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { instrumentObjectStore } from "../../src/observability/instrument.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing } from "../../src/observability/tracing.js";
import { loadConfig } from "../../src/config.js";
import type { PresignPutInput } from "../../src/storage/object-store.js";

const FILES = 10;

async function usPerCall(body: () => unknown, calls: number): Promise<number> {
  for (let i = 0; i < Math.min(calls, 500); i++) await body();
  const start = performance.now();
  for (let i = 0; i < calls; i++) await body();
  return ((performance.now() - start) * 1000) / calls;
}

/** Median of a few tries, µs per call of 10 files. */
async function cost(body: () => unknown, calls: number): Promise<number> {
  const tries: number[] = [];
  for (let i = 0; i < 5; i++) tries.push(await usPerCall(body, calls));
  tries.sort((a, b) => a - b);
  return Math.round(tries[2]! * 10) / 10;
}

export async function measureGenerateUploadLayers(calls = 5_000): Promise<Record<string, number>> {
  // Presigning needs credentials only to sign with: s3rver's defaults, no request is made.
  process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
  const limits = loadConfig({ DATABASE_URL: "mysql://bench@127.0.0.1/bench", S3_BUCKET: "files" }).limits;
  const tracing = createTracing({ serviceName: "bench" });
  const metrics = createMetrics();
  const store = createS3ObjectStore({ bucket: "files", region: "us-east-1", endpoint: "http://127.0.0.1:4566", forcePathStyle: true });
  const timed = instrumentObjectStore(store, { tracer: tracing.tracer, metrics, traced: false });
  const traced = instrumentObjectStore(store, { tracer: tracing.tracer, metrics, traced: true });

  const request = Array.from({ length: FILES }, (_, i) => ({
    filename: `photo-${i}.jpg`,
    contentType: "image/jpeg",
    sizeBytes: BigInt(100_000 + i),
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    purpose: FilePurpose.POST_ATTACHMENT,
  }));
  const inputs: PresignPutInput[] = request.map((f, i) => ({
    key: `files/${uuidv7()}/original`,
    contentType: f.contentType,
    contentLength: 100_000 + i,
    contentMd5: f.md5,
    expiresInSeconds: 900,
  }));
  const presignAll = (s: typeof store) => Promise.all(inputs.map((input) => s.presignPut(input)));
  const uploads = await presignAll(store);
  const ids = inputs.map(() => uuidv7());
  const response = () =>
    create(GenerateUploadURLsResponseSchema, {
      uploads: uploads.map((u, i) => ({ fileId: ids[i]!, url: u.url, method: "PUT", headers: u.headers, expiresAt: timestampFromDate(u.expiresAt) })),
    });
  const built = response();

  const costs: Record<string, number> = {
    "validation (name, type, size, md5 of 10 files)": await cost(() => request.forEach((f, i) => checkFileToUpload(f, `files[${i}]`, "post_attachment", limits)), calls),
    "10 ids, uuid's v7 (before)": await cost(() => ids.map(() => uuidv7()), calls),
    "10 ids, pooled (newFileId)": await cost(() => ids.map(() => newFileId()), calls),
    "10 presigned PUTs (lean SigV4)": await cost(() => presignAll(store), calls),
    "10 presigned PUTs, timed (histogram per URL)": await cost(() => presignAll(timed), calls),
    "10 presigned PUTs, timed and a span per URL (before)": await cost(() => presignAll(traced), calls),
    "idempotency fingerprint (when a key is given)": await cost(() => fingerprintOf(request), calls),
    "response message (10 uploads, header maps, Timestamps)": await cost(response, calls),
    "response → binary": await cost(() => toBinary(GenerateUploadURLsResponseSchema, built), calls),
  };
  store.close();
  await tracing.shutdown();
  return costs;
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(await measureGenerateUploadLayers(), null, 2)}\n`);
