// ObjectStore backed by S3 (or anything speaking its API: LocalStack, MinIO, s3rver).
// Credentials come from the SDK's default provider chain.

import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";

import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { assertPutInput, assertRange, openSourceFile } from "../input-checks.js";
import {
  isStreamPut,
  type ObjectInfo,
  type ObjectPage,
  type ObjectStore,
  type PresignedRequest,
  type PresignGetInput,
  type PresignPutInput,
  type PutObjectInput,
  type PutStreamInput,
} from "../object-store.js";
import { createS3UrlPresigner, type PresignableCommand, type S3UrlPresigner } from "./sigv4-presigner.js";
import { callBound, isNotFound, isTransient, isUnsatisfiableRange, md5FromETag, putFailure, SourceFileError, unavailable } from "./s3-answers.js";

export interface S3ObjectStoreOptions {
  bucket: string;
  region: string;
  /** Where the service itself reaches S3; the SDK's default when absent. */
  endpoint?: string;
  /** Where clients reach S3, when it differs from `endpoint` (presigned URLs use it). */
  publicEndpoint?: string;
  forcePathStyle: boolean;
  /** Each request's bound; default 10000 ms. */
  requestTimeoutMs?: number;
}

// S3's hard limit of keys per DeleteObjects request.
const DELETE_BATCH_SIZE = 1000;

// Signed as headers so S3 rejects an upload whose type, length or digest differ
// from what was declared.
const SIGNED_UPLOAD_HEADERS = new Set(["content-type", "content-length", "content-md5"]);
// The presigner would otherwise hoist it into the query string, where the
// uploader would not have to send it.
const UNHOISTED_HEADERS = new Set(["x-amz-server-side-encryption"]);
// The SDK never retries a request with a stream body (it cannot rewind it), so
// put() retries file bodies itself, reopening the file: as many attempts as the
// client's maxAttempts gives Buffer bodies.
const STREAM_PUT_ATTEMPTS = 2;
const STREAM_PUT_RETRY_DELAY_MS = 100;

export function createS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  const client = createClient(options, options.endpoint);
  const presignClient =
    options.publicEndpoint === undefined ? client : createClient(options, options.publicEndpoint);
  // The URLs getSignedUrl would give, without its per-call middleware and endpoint rules.
  const presigner = createS3UrlPresigner(presignClient);
  const { bucket } = options;
  // The SDK bounds each attempt's idle time; small requests get one bound for all their attempts,
  // so a stalled S3 answers within S3_REQUEST_TIMEOUT_MS. Bodies that grow with the file (file and
  // stream PUTs, GETs) keep the per-attempt idle bound: a big file on a slow link is not a stall.
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const bounded = () => callBound(undefined, requestTimeoutMs);

  /**
   * One PutObject request, returning the ETag; a stream body is aborted if
   * reading it fails. Without `md5` (a stream still arriving) S3 checks no digest.
   */
  const sendPut = async (input: PutObjectInput, body: Buffer | Readable, md5: string | undefined): Promise<string | undefined> => {
    const command = new PutObjectCommand({
      Bucket: bucket,
      Key: input.key,
      Body: body,
      ContentType: input.contentType,
      // Sent as Content-Length: the SDK then pipes a stream as it is read,
      // never buffering it (and needs no chunked or aws-chunked encoding).
      ContentLength: input.contentLength,
      ContentMD5: md5,
      ServerSideEncryption: "AES256",
    });
    if (Buffer.isBuffer(body)) {
      return (await client.send(command, bounded())).ETag;
    }
    // The SDK pipes the stream into the request; when reading fails the pipe
    // just stops, and the request would idle until requestTimeout.
    const abort = new AbortController();
    let readError: unknown;
    const onError = (error: unknown) => {
      readError ??= error;
      abort.abort();
    };
    // Stays attached: an error the stream emits later (e.g. closing the file) must not go unhandled.
    body.on("error", onError);
    try {
      return (await client.send(command, callBound(abort.signal))).ETag;
    } catch (error) {
      if (readError !== undefined) throw new SourceFileError(readError);
      throw error;
    } finally {
      body.destroy();
    }
  };

  /**
   * A stream body, sent as it arrives. Each chunk is held back until the next
   * one (or the stream's end) comes: S3 stores the object once it has
   * Content-Length bytes, so the last ones go out only when the stream has
   * ended well, and a stream that fails or overruns leaves no object. The
   * ETag, S3's MD5 of what it stored under SSE-S3, is then checked against the
   * stream's.
   */
  const putStream = async (input: PutStreamInput): Promise<void> => {
    const { contentLength } = input;
    async function* heldBack(): AsyncGenerator<Uint8Array> {
      let size = 0;
      let held: Uint8Array | undefined;
      for await (const chunk of input.body.stream) {
        if (chunk.length === 0) continue;
        size += chunk.length;
        if (size > contentLength) throw new Error(`put: the stream holds more than contentLength ${contentLength} bytes`);
        if (held !== undefined) yield held;
        held = chunk;
      }
      if (size !== contentLength) throw new Error(`put: the stream held ${size} bytes, not contentLength ${contentLength}`);
      if (held !== undefined) yield held;
    }
    let etag: string | undefined;
    if (contentLength === 0) {
      for await (const _ of heldBack());
      etag = await sendPut(input, Buffer.alloc(0), undefined).catch((error: unknown) => {
        throw putFailure(error);
      });
    } else {
      try {
        etag = await sendPut(input, Readable.from(heldBack(), { objectMode: false }), undefined);
      } catch (error) {
        // The stream's own failure (the caller aborting, a length that is not
        // contentLength) is the caller's, thrown as it is. S3 stores nothing
        // of an aborted request; some S3-like servers (s3rver) keep what they
        // got, so the key is cleared (an earlier object under it goes too).
        if (error instanceof SourceFileError) {
          await removeQuietly(input.key);
          throw error.cause;
        }
        throw putFailure(error);
      }
    }
    const stored = md5FromETag(etag);
    if (stored !== null && stored !== input.md5()) {
      await removeQuietly(input.key);
      throw new Error("the object store got other bytes than the stream's: they do not match md5");
    }
  };

  /** Best effort: the key's object removed (the caller of a failed put removes it again). */
  const removeQuietly = (key: string): Promise<void> =>
    client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key }], Quiet: true } })).then(
      () => undefined,
      () => undefined,
    );

  return {
    async put(input: PutObjectInput): Promise<void> {
      if (isStreamPut(input)) return putStream(input);
      assertPutInput(input);
      const { body } = input;
      if (Buffer.isBuffer(body)) {
        try {
          await sendPut(input, body, input.md5);
        } catch (error) {
          throw putFailure(error);
        }
        return;
      }
      // Tried again only while the bound leaves room: a stalled S3 answers within it, not twice it.
      const retryUntil = Date.now() + requestTimeoutMs - STREAM_PUT_RETRY_DELAY_MS;
      for (let attempt = 1; ; attempt++) {
        // Failures to open or read the caller's file are the caller's, thrown as they are.
        // The stream owns the handle: it closes it when done or destroyed.
        const stream = (await openSourceFile(body.path, input.contentLength)).createReadStream();
        try {
          await sendPut(input, stream, input.md5);
          return;
        } catch (error) {
          if (error instanceof SourceFileError) throw error.cause;
          if (attempt >= STREAM_PUT_ATTEMPTS || !isTransient(error) || Date.now() >= retryUntil) throw putFailure(error);
        }
        await sleep(STREAM_PUT_RETRY_DELAY_MS);
      }
    },

    async get(key: string, range?: { start: number; end: number }): Promise<Buffer | null> {
      if (range !== undefined) assertRange(range);
      try {
        const output = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}`,
          }),
          callBound(),
        );
        const bytes = (await output.Body?.transformToByteArray()) ?? new Uint8Array(0);
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        // A ranged GET answered without Content-Range (200) is the whole
        // object, from a server that ignores Range: cut it here.
        if (range !== undefined && output.ContentRange === undefined) {
          return buffer.subarray(range.start, range.end + 1);
        }
        return buffer;
      } catch (error) {
        if (isNotFound(error)) return null;
        // 416: the range starts at or past the end of the object.
        if (range !== undefined && isUnsatisfiableRange(error)) return Buffer.alloc(0);
        throw unavailable(error);
      }
    },

    async presignPut(input: PresignPutInput): Promise<PresignedRequest> {
      const { contentType: ContentType, contentLength: ContentLength, contentMd5: ContentMD5 } = input;
      const command = new PutObjectCommand({ Bucket: bucket, Key: input.key, ContentType, ContentLength, ContentMD5, ServerSideEncryption: "AES256" });
      const signed = await presign(presigner, command, input.expiresInSeconds, {
        signableHeaders: SIGNED_UPLOAD_HEADERS,
        unhoistableHeaders: UNHOISTED_HEADERS,
      });
      return {
        ...signed,
        headers: {
          "Content-Type": input.contentType,
          "Content-Length": String(input.contentLength),
          "Content-MD5": input.contentMd5,
          "x-amz-server-side-encryption": "AES256",
        },
      };
    },

    async presignGet(input: PresignGetInput): Promise<PresignedRequest> {
      const { contentDisposition: ResponseContentDisposition, contentType: ResponseContentType } = input;
      const command = new GetObjectCommand({ Bucket: bucket, Key: input.key, ResponseContentDisposition, ResponseContentType });
      const signed = await presign(presigner, command, input.expiresInSeconds, {});
      return { ...signed, headers: {} };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      try {
        const output = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), bounded());
        if (output.ContentLength === undefined) {
          throw new Error("HeadObject response has no Content-Length");
        }
        return { size: output.ContentLength, md5: md5FromETag(output.ETag) };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw unavailable(error);
      }
    },

    async delete(keys: readonly string[]): Promise<string[]> {
      const failed: string[] = [];
      for (let start = 0; start < keys.length; start += DELETE_BATCH_SIZE) {
        const batch = keys.slice(start, start + DELETE_BATCH_SIZE);
        try {
          const output = await client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
            bounded(),
          );
          for (const error of output.Errors ?? []) {
            // A missing key counts as removed.
            if (error.Key !== undefined && error.Code !== "NoSuchKey") failed.push(error.Key);
          }
        } catch (error) {
          throw unavailable(error);
        }
      }
      return failed;
    },

    async move(fromKey: string, to: { key: string; bucket?: string }): Promise<boolean> {
      // CopySource is "<bucket>/<key>", the key URL-encoded segment by segment.
      const source = `${bucket}/${fromKey.split("/").map(encodeURIComponent).join("/")}`;
      try {
        await client.send(new CopyObjectCommand({ Bucket: to.bucket ?? bucket, Key: to.key, CopySource: source, ServerSideEncryption: "AES256" }), bounded());
      } catch (error) {
        if (isNotFound(error)) return false;
        throw unavailable(error);
      }
      // The copy stands: removing the source may fail and be retried (moving again is idempotent).
      try {
        const output = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: fromKey }], Quiet: true } }), bounded());
        if ((output.Errors ?? []).some((e) => e.Code !== "NoSuchKey")) throw new Error(`copied ${fromKey}, but could not remove it`);
      } catch (error) {
        throw unavailable(error);
      }
      return true;
    },

    async list({ prefix, cursor, limit }): Promise<ObjectPage> {
      try {
        const output = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: Math.min(limit, 1000), ContinuationToken: cursor }),
          bounded(),
        );
        const objects = (output.Contents ?? []).flatMap((o) =>
          o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) }],
        );
        return output.IsTruncated && output.NextContinuationToken ? { objects, cursor: output.NextContinuationToken } : { objects };
      } catch (error) {
        throw unavailable(error);
      }
    },

    async ping(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }), bounded());
      } catch (error) {
        throw unavailable(error);
      }
    },

    close(): void {
      client.destroy();
      if (presignClient !== client) presignClient.destroy();
    },
  };
}

function createClient(options: S3ObjectStoreOptions, endpoint: string | undefined): S3Client {
  return new S3Client({
    region: options.region,
    endpoint,
    forcePathStyle: options.forcePathStyle,
    // Otherwise the SDK adds a checksum of the (empty) presign-time body to
    // presigned PUTs, which every real upload then fails.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Fail fast when S3 is unreachable: callers get Unavailable and may retry.
    maxAttempts: 2,
    // Without a logger of its own, the SDK writes some warnings with
    // console.warn (e.g. each failed request with a stream body: "An error was
    // encountered in a non-retryable streaming request."). Failures reach
    // callers as errors; the service's logs stay structured.
    logger: SILENT_LOGGER,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: options.requestTimeoutMs ?? 10_000, throwOnRequestTimeout: true },
  });
}

const SILENT_LOGGER = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

async function presign(
  presigner: S3UrlPresigner,
  command: PresignableCommand,
  expiresInSeconds: number,
  headerRules: { signableHeaders?: Set<string>; unhoistableHeaders?: Set<string> },
): Promise<Omit<PresignedRequest, "headers">> {
  // Whole seconds, as in X-Amz-Date, so expiresAt is exactly when S3 stops accepting the URL.
  const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
  try {
    const url = await presigner.presign(command, {
      ...headerRules,
      expiresIn: expiresInSeconds,
      signingDate,
    });
    return { url, expiresAt: new Date(signingDate.getTime() + expiresInSeconds * 1000) };
  } catch (error) {
    // e.g. no credentials could be resolved
    throw unavailable(error);
  }
}
