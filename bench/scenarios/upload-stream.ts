// Scenario 5: UploadFileStream of 20 MiB in 64 KiB chunks over gRPC + mTLS,
// against a direct PUT of the same bytes to the object store, in MiB/s; and
// the service's peak RSS while 8 such streams run at once.
import { randomBytes } from "node:crypto";
import { FilePurpose } from "../../gen/file/v1/file_service_pb.js";
import { noisePng } from "../../test/support/images.js";
import { fileSpec, putUpload } from "../../test/support/upload.js";
import { alternate, report, SMOKE, summarize } from "../lib/measure.js";
import { startStack } from "../lib/stack.js";

const MIB = 1024 * 1024;
const SIZE = SMOKE ? 2 * MIB : 20 * MIB;
const CHUNK = 64 * 1024;

// Processing is left queued (no worker) so only the upload path is measured.
const stack = await startStack({ PROCESSING_CONCURRENCY: "0" });
try {
  const client = stack.client();
  const image = await noisePng(SIZE - 64);
  // Unique bytes per upload (dedup would otherwise answer the second at once):
  // decoders ignore data after a PNG's end.
  const fresh = () => Buffer.concat([image, randomBytes(32)]);

  async function* stream(bytes: Buffer) {
    yield { payload: { case: "metadata" as const, value: { ownerId: "bench", filename: "b.png", contentType: "image/png", purpose: FilePurpose.COVER_PHOTO, processing: { async: true } } } };
    for (let i = 0; i < bytes.length; i += CHUNK) yield { payload: { case: "chunk" as const, value: bytes.subarray(i, i + CHUNK) } };
  }
  const uploadStream = async (bytes: Buffer) => {
    const { file } = await client.uploadFileStream(stream(bytes));
    if (file?.sizeBytes !== BigInt(bytes.length)) throw new Error("upload came back wrong");
  };
  const directPut = async (bytes: Buffer) => {
    const { uploads } = await client.generateUploadURLs({ ownerId: "bench-direct", files: [{ ...fileSpec(bytes, "b.png"), purpose: FilePurpose.COVER_PHOTO }] });
    const start = performance.now();
    const res = await putUpload(uploads[0]!, bytes);
    if (res.status !== 200) throw new Error(`PUT ${res.status}`);
    return performance.now() - start;
  };
  const mibPerS = (bytes: number, ms: number) => bytes / MIB / (ms / 1000);

  await uploadStream(fresh()); // warm-up: TLS session, JIT, pools
  const samples = await alternate([
    {
      name: "UploadFileStream (gRPC+mTLS → service → S3)",
      async run() {
        const bytes = fresh();
        const start = performance.now();
        await uploadStream(bytes);
        return mibPerS(bytes.length, performance.now() - start);
      },
    },
    {
      name: "direct PUT to the object store",
      async run() {
        const bytes = fresh();
        return mibPerS(bytes.length, await directPut(bytes));
      },
    },
  ]);

  await stack.resetPeakRss();
  await new Promise((r) => setTimeout(r, 500));
  const idleRss = await stack.peakRssMiB();
  const parallel = SMOKE ? 2 : 8;
  await Promise.all(Array.from({ length: parallel }, () => uploadStream(fresh())));
  const peak = await stack.peakRssMiB();

  await report(
    summarize(
      {
        scenario: "5-upload-stream",
        unit: "MiB/s",
        higherIsBetter: true,
        baseline: "direct PUT to the object store",
        goal: ">= 0.80x",
        extra: {
          "bytes per upload": SIZE,
          [`service peak RSS with ${parallel} concurrent ${SIZE / MIB} MiB streams (MiB)`]: peak,
          "service peak RSS before them (MiB)": idleRss,
        },
      },
      samples,
    ),
  );
} finally {
  await stack.stop();
}
