// Presigning a PutObject (SSE, Content-MD5, type, length signed as headers) in
// URLs/s: our lean SigV4 presigner (src/storage/s3/sigv4-presigner.ts) and the
// S3 store's presignPut that uses it, against the stock getSignedUrl for the
// same command and options. In process, no network: presigning is local.
// Every URL is checked byte-identical to the stock one before measuring.
import { randomUUID } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { createS3UrlPresigner } from "../../src/storage/s3/sigv4-presigner.js";
import { alternate, report, SMOKE, summarize } from "../lib/measure.js";

const SAMPLE_MS = SMOKE ? 100 : 1_500;
const ENDPOINT = "http://127.0.0.1:4566"; // never contacted
const BUCKET = "bench-bucket";
const REGION = "us-east-1";
process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";

// As the S3 store configures its client and signs uploads.
const client = new S3Client({
  region: REGION,
  endpoint: ENDPOINT,
  forcePathStyle: true,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const SIGNED_UPLOAD_HEADERS = new Set(["content-type", "content-length", "content-md5"]);
const UNHOISTED_HEADERS = new Set(["x-amz-server-side-encryption"]);
let fallbacks = 0;
const presigner = createS3UrlPresigner(client, { onStock: () => fallbacks++ });
const store = createS3ObjectStore({ bucket: BUCKET, region: REGION, endpoint: ENDPOINT, forcePathStyle: true });

// A fresh key per URL, as uploads have.
const command = () =>
  new PutObjectCommand({
    Bucket: BUCKET,
    Key: `files/${randomUUID()}/original`,
    ContentType: "image/jpeg",
    ContentLength: 2_345_678,
    ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    ServerSideEncryption: "AES256",
  });
const options = (signingDate = new Date(Math.floor(Date.now() / 1000) * 1000)) => ({
  expiresIn: 900,
  signingDate,
  signableHeaders: SIGNED_UPLOAD_HEADERS,
  unhoistableHeaders: UNHOISTED_HEADERS,
});

/** URLs per second over SAMPLE_MS, one after another. */
async function rate(presignOne: () => Promise<string>): Promise<number> {
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 50; i++) await presignOne();
    count += 50;
    elapsed = performance.now() - start;
  } while (elapsed < SAMPLE_MS);
  return count / (elapsed / 1000);
}

try {
  // The figures compare equal work: same URLs, byte for byte.
  for (let i = 0; i < (SMOKE ? 20 : 500); i++) {
    const c = command();
    const date = new Date(Date.UTC(2024, 0, 1 + (i % 40), i % 24, i % 60, i % 60));
    const [stockUrl, leanUrl] = [await getSignedUrl(client, c, options(date)), await presigner.presign(c, options(date))];
    if (stockUrl !== leanUrl) throw new Error(`URLs differ:\n${stockUrl}\n${leanUrl}`);
  }
  if (fallbacks > 0) throw new Error("the lean presigner fell back to the stock one");

  const storePut = () =>
    store
      .presignPut({ key: `files/${randomUUID()}/original`, contentType: "image/jpeg", contentLength: 2_345_678, contentMd5: "1B2M2Y8AsgTpgAmY7PhCfg==", expiresInSeconds: 900 })
      .then((p) => p.url);
  // Warm-up (JIT) of each path.
  await rate(() => getSignedUrl(client, command(), options()));
  await rate(() => presigner.presign(command(), options()));
  await rate(storePut);

  const samples = await alternate([
    { name: "stock getSignedUrl", run: () => rate(() => getSignedUrl(client, command(), options())) },
    { name: "lean SigV4 presigner", run: () => rate(() => presigner.presign(command(), options())) },
    { name: "S3 store presignPut (lean)", run: () => rate(storePut) },
  ]);
  if (fallbacks > 0) throw new Error("the lean presigner fell back to the stock one");

  await report(
    summarize(
      {
        scenario: "presign",
        unit: "URLs/s",
        higherIsBetter: true,
        baseline: "stock getSignedUrl",
        goal: ">= 10x",
        extra: { "sample duration (ms)": SAMPLE_MS, "URLs checked byte-identical before measuring": SMOKE ? 20 : 500 },
      },
      samples,
    ),
  );
} finally {
  store.close();
  client.destroy();
}
