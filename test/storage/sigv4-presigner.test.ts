// The lean SigV4 presigner must produce exactly the URLs of the stock
// getSignedUrl for the same command, options and signing date: byte for byte,
// over endpoint styles, keys, credentials (with session tokens, rotating) and
// the header rules the S3 store uses. No network: presigning is local.

import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { createS3UrlPresigner, type PresignOptions } from "../../src/storage/s3/sigv4-presigner.js";

const STATIC = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const TEMPORARY = {
  accessKeyId: "ASIAEXAMPLE",
  secretAccessKey: "temporary/secret+key=",
  sessionToken: "IQoJb3JpZ2luX2VjE/session+token==with/odd chars",
};

// As the S3 store configures its clients.
const STORE_CONFIG: S3ClientConfig = { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" };

const CLIENTS: Record<string, S3ClientConfig> = {
  "path-style, custom endpoint (s3rver/LocalStack)": { ...STORE_CONFIG, region: "us-east-1", endpoint: "http://127.0.0.1:4566", forcePathStyle: true },
  "path-style, https MinIO with a base path": { ...STORE_CONFIG, region: "eu-central-1", endpoint: "https://minio.example.com:9000/s3", forcePathStyle: true },
  "virtual-hosted AWS, eu-west-3": { ...STORE_CONFIG, region: "eu-west-3", forcePathStyle: false },
  "virtual-hosted AWS, us-east-1": { ...STORE_CONFIG, region: "us-east-1" },
  "virtual-hosted on a custom endpoint": { ...STORE_CONFIG, region: "us-east-1", endpoint: "http://s3.local.test:9000", forcePathStyle: false },
  "AWS with the SDK's default checksum settings": { region: "ap-southeast-2" },
};

const KEYS = [
  "files/0b7e2f4a-8c1d-4e3b-9f6a-2d5c8e1b7a90/original",
  "plain",
  "with space/and  two.png",
  "ünïcödé/日本語/😀.jpg",
  "plus+sign/a+b=c&d",
  "~tilde_-.dots",
  "!'()*reserved",
  "%41%2F percent",
  "question?hash#",
  "double//slash/",
  "/leading",
  "x/./../y",
  "no\u00a0break",
  "a".repeat(300),
];

const DATES = [
  new Date("2024-05-06T07:08:09Z"),
  new Date("2024-12-31T23:59:59.999Z"), // milliseconds dropped; last second of a day...
  new Date("2025-01-01T00:00:00Z"), // ...and the first of the next: another signing key
];

const SIGNED_UPLOAD_HEADERS = new Set(["content-type", "content-length", "content-md5"]);
const UNHOISTED_HEADERS = new Set(["x-amz-server-side-encryption"]);

const clients: S3Client[] = [];
/** Why calls went to the stock presigner (expected empty but where the test says otherwise). */
let stockReasons: string[] = [];
const lean = (c: S3Client) => createS3UrlPresigner(c, { onStock: (reason) => stockReasons.push(reason) });
afterEach(() => {
  stockReasons = [];
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
});

function client(config: S3ClientConfig, credentials: S3ClientConfig["credentials"] = STATIC): S3Client {
  const c = new S3Client({ ...config, credentials });
  clients.push(c);
  return c;
}

const put = (key: string, overrides: Partial<PutObjectCommand["input"]> = {}) =>
  new PutObjectCommand({
    Bucket: "media-bucket",
    Key: key,
    ContentType: "image/png",
    ContentLength: 1234,
    ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    ServerSideEncryption: "AES256",
    ...overrides,
  });

const get = (key: string, overrides: Partial<GetObjectCommand["input"]> = {}) =>
  new GetObjectCommand({
    Bucket: "media-bucket",
    Key: key,
    ResponseContentDisposition: `attachment; filename="r\u00e9port \\"final\\".csv"; filename*=UTF-8''r%C3%A9port%20%22final%22.csv`,
    ResponseContentType: "text/csv; charset=utf-8",
    ...overrides,
  });

async function expectIdentical(
  c: S3Client,
  presigner: ReturnType<typeof createS3UrlPresigner>,
  command: PutObjectCommand | GetObjectCommand,
  options: PresignOptions,
): Promise<string> {
  // getSignedUrl adds to the sets it is given: give each its own copies.
  const copy = (o: PresignOptions): PresignOptions =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Set ? new Set(v) : v]));
  const expected = await getSignedUrl(c, command, copy(options));
  const actual = await presigner.presign(command, copy(options));
  expect(actual).toBe(expected);
  return actual;
}

describe("byte-identical to getSignedUrl", () => {
  for (const [name, config] of Object.entries(CLIENTS)) {
    for (const [credentialsName, credentials] of [
      ["static credentials", STATIC],
      ["temporary credentials (session token)", TEMPORARY],
    ] as const) {
      it(`${name}, ${credentialsName}: PUT as the store signs it and GET with disposition, for every key`, async () => {
        const c = client(config, credentials);
        const presigner = lean(c);
        let count = 0;
        for (const signingDate of DATES) {
          for (const key of KEYS) {
            const url = await expectIdentical(c, presigner, put(key), {
              expiresIn: 300,
              signingDate,
              signableHeaders: SIGNED_UPLOAD_HEADERS,
              unhoistableHeaders: UNHOISTED_HEADERS,
            });
            expect(url).toContain("X-Amz-SignedHeaders=content-length%3Bcontent-md5%3Bcontent-type%3Bhost%3Bx-amz-server-side-encryption");
            expect(url.includes("X-Amz-Security-Token=")).toBe("sessionToken" in credentials);
            await expectIdentical(c, presigner, get(key), { expiresIn: 60, signingDate });
            count += 2;
          }
        }
        expect(count).toBe(DATES.length * KEYS.length * 2);
        expect(stockReasons).toEqual([]);
      });
    }
  }

  it("for other header values, expiries, buckets and the default options", async () => {
    const c = client(CLIENTS["path-style, custom endpoint (s3rver/LocalStack)"]!);
    const presigner = lean(c);
    const signingDate = DATES[0]!;
    const rules = { signableHeaders: SIGNED_UPLOAD_HEADERS, unhoistableHeaders: UNHOISTED_HEADERS };
    for (const overrides of [
      { ContentType: "text/plain;   charset=utf-8 " }, // blanks collapsed in the canonical value
      { ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
      { ContentLength: 0 },
      { ContentLength: 5 * 1024 ** 3 },
      { ContentMD5: "rL0Y20zC+Fzt72VPzMSk2A==" },
      { ServerSideEncryption: undefined },
      { Bucket: "other-bucket" },
      { Bucket: "dotted.bucket.name" },
    ] as const) {
      await expectIdentical(c, presigner, put("k/ey", overrides), { expiresIn: 300, signingDate, ...rules });
    }
    for (const expiresIn of [1, 3600, 7 * 24 * 3600, undefined]) {
      await expectIdentical(c, presigner, put("k", {}), { expiresIn, signingDate, ...rules });
      await expectIdentical(c, presigner, get("k"), { expiresIn, signingDate });
    }
    // getSignedUrl's defaults: content-type unsigned, SSE kept a signed header anyway.
    await expectIdentical(c, presigner, put("k"), { signingDate });
    // SSE hoisted on request; content-type not signed.
    await expectIdentical(c, presigner, put("k"), { signingDate, hoistableHeaders: new Set(["x-amz-server-side-encryption"]) });
    for (const overrides of [
      { ResponseContentDisposition: "inline" },
      { ResponseContentDisposition: `attachment; filename="a;b,c.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt` },
      { ResponseContentType: "" },
      { ResponseContentDisposition: undefined, ResponseContentType: undefined },
    ] as const) {
      await expectIdentical(c, presigner, get("k", overrides), { expiresIn: 60, signingDate });
    }
    expect(stockReasons).toEqual([]);
  });

  it("falls back to the stock presigner, with the same result, for what it does not handle", async () => {
    const c = client(CLIENTS["virtual-hosted AWS, eu-west-3"]!);
    const presigner = lean(c);
    const signingDate = DATES[0]!;
    await expectIdentical(c, presigner, put("k", { CacheControl: "no-store", Metadata: { a: "b" } }), { signingDate });
    await expectIdentical(c, presigner, put("k", { ContentType: "" }), { signingDate });
    await expectIdentical(c, presigner, get("k", { Range: "bytes=0-9" }), { signingDate });
    // Would sign the user-agent header the SDK adds.
    await expectIdentical(c, presigner, get("k"), { signingDate, signableHeaders: new Set(["user-agent"]) });
    // Handled, not a fallback: nothing signed at all.
    await expectIdentical(c, presigner, get("k"), { signingDate, unsignableHeaders: new Set(["host"]) });

    const tooLong = { signingDate, expiresIn: 7 * 24 * 3600 + 1 };
    const stockError = await getSignedUrl(c, put("k"), tooLong).catch((e: unknown) => e);
    expect(stockError).toBeDefined();
    await expect(presigner.presign(put("k"), tooLong)).rejects.toEqual(stockError);
    expect(stockReasons).toEqual([
      "input CacheControl",
      "empty ContentType",
      "input Range",
      "signable user-agent",
      "command or options",
    ]);
  });

  it("re-resolves rotating credentials through the client's provider on every call", async () => {
    let current: { accessKeyId: string; secretAccessKey: string; sessionToken: string } = { ...TEMPORARY };
    let resolved = 0;
    // Expiring within the SDK's refresh window: its memoized provider asks again on each call.
    const provider = async () => {
      resolved++;
      return { ...current, expiration: new Date(Date.now() + 60_000) };
    };
    const c = client(CLIENTS["virtual-hosted AWS, us-east-1"]!, provider);
    const presigner = lean(c);
    const options = { signingDate: DATES[0]!, expiresIn: 300, signableHeaders: SIGNED_UPLOAD_HEADERS, unhoistableHeaders: UNHOISTED_HEADERS };

    const first = await expectIdentical(c, presigner, put("k"), options);
    current = { accessKeyId: "ASIAROTATED", secretAccessKey: "rotated-secret", sessionToken: "rotated-token" };
    const second = await expectIdentical(c, presigner, put("k"), options);
    expect(second).toContain("X-Amz-Credential=ASIAROTATED%2F");
    expect(second).toContain("X-Amz-Security-Token=rotated-token");
    expect(first).not.toBe(second);
    // Same access key id, new secret (never cached under the id alone).
    current = { ...current, secretAccessKey: "another-secret" };
    const third = await expectIdentical(c, presigner, put("k"), options);
    expect(third).not.toBe(second);
    expect(resolved).toBeGreaterThanOrEqual(6);
    expect(stockReasons).toEqual([]);
  });
});

describe("the S3 store's presignPut and presignGet", () => {
  it("return what getSignedUrl gives for the same commands at the same second", async () => {
    const now = new Date("2024-05-06T07:08:09.456Z");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now);
    process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
    const options = { bucket: "files-test", region: "us-east-1", endpoint: "http://127.0.0.1:4566", forcePathStyle: true };
    const store = createS3ObjectStore(options);
    const stockClient = new S3Client({ ...STORE_CONFIG, region: options.region, endpoint: options.endpoint, forcePathStyle: true });
    clients.push(stockClient);
    try {
      const signingDate = new Date("2024-05-06T07:08:09Z");
      const key = "files/some id/original";
      const presignedPut = await store.presignPut({ key, contentType: "image/png", contentLength: 1234, contentMd5: "1B2M2Y8AsgTpgAmY7PhCfg==", expiresInSeconds: 300 });
      expect(presignedPut.url).toBe(
        await getSignedUrl(stockClient, put(key, { Bucket: options.bucket }), {
          expiresIn: 300,
          signingDate,
          signableHeaders: new Set(SIGNED_UPLOAD_HEADERS),
          unhoistableHeaders: new Set(UNHOISTED_HEADERS),
        }),
      );
      expect(presignedPut.expiresAt).toEqual(new Date(signingDate.getTime() + 300_000));

      const disposition = `attachment; filename="caf\u00e9.pdf"; filename*=UTF-8''caf%C3%A9.pdf`;
      const presignedGet = await store.presignGet({ key, expiresInSeconds: 60, contentDisposition: disposition, contentType: "application/pdf" });
      expect(presignedGet.url).toBe(
        await getSignedUrl(
          stockClient,
          get(key, { Bucket: options.bucket, ResponseContentDisposition: disposition, ResponseContentType: "application/pdf" }),
          { expiresIn: 60, signingDate },
        ),
      );
    } finally {
      store.close();
    }
  });
});
