// ObjectStore backed by S3 (or anything speaking its API: LocalStack, MinIO, s3rver).
// Credentials come from the SDK's default provider chain.

import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { DependencyUnavailableError } from "../../errors.js";
import type {
  ObjectInfo,
  ObjectStore,
  PresignedRequest,
  PresignGetInput,
  PresignPutInput,
} from "../object-store.js";

export interface S3ObjectStoreOptions {
  bucket: string;
  region: string;
  /** Where the service itself reaches S3; the SDK's default when absent. */
  endpoint?: string;
  /** Where clients reach S3, when it differs from `endpoint` (presigned URLs use it). */
  publicEndpoint?: string;
  forcePathStyle: boolean;
}

// S3's hard limit of keys per DeleteObjects request.
const DELETE_BATCH_SIZE = 1000;

// Signed as headers so S3 rejects an upload whose type, length or digest differ
// from what was declared.
const SIGNED_UPLOAD_HEADERS = new Set(["content-type", "content-length", "content-md5"]);
// The presigner would otherwise hoist it into the query string, where the
// uploader would not have to send it.
const UNHOISTED_HEADERS = new Set(["x-amz-server-side-encryption"]);

export function createS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  const client = createClient(options, options.endpoint);
  const presignClient =
    options.publicEndpoint === undefined ? client : createClient(options, options.publicEndpoint);
  const { bucket } = options;

  return {
    async presignPut(input: PresignPutInput): Promise<PresignedRequest> {
      const command = new PutObjectCommand({
        Bucket: bucket,
        Key: input.key,
        ContentType: input.contentType,
        ContentLength: input.contentLength,
        ContentMD5: input.contentMd5,
        ServerSideEncryption: "AES256",
      });
      const signed = await presign(presignClient, command, input.expiresInSeconds, {
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
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: input.key,
        ResponseContentDisposition: input.contentDisposition,
        ResponseContentType: input.contentType,
      });
      const signed = await presign(presignClient, command, input.expiresInSeconds, {});
      return { ...signed, headers: {} };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      try {
        const output = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
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

    async ping(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
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
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  });
}

type PresignableCommand = PutObjectCommand | GetObjectCommand;

async function presign(
  client: S3Client,
  command: PresignableCommand,
  expiresInSeconds: number,
  headerRules: { signableHeaders?: Set<string>; unhoistableHeaders?: Set<string> },
): Promise<Omit<PresignedRequest, "headers">> {
  // Whole seconds, as in X-Amz-Date, so expiresAt is exactly when S3 stops accepting the URL.
  const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
  try {
    const url = await getSignedUrl(client, command, {
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

/** S3's ETag is the quoted hex MD5 for single-part uploads; "<hex>-<parts>" for multipart ones. */
function md5FromETag(etag: string | undefined): string | null {
  const hex = etag?.replace(/^"|"$/g, "");
  if (hex === undefined || !/^[0-9a-f]{32}$/i.test(hex)) return null;
  return Buffer.from(hex, "hex").toString("base64");
}

// HEAD responses have no body, so a missing key surfaces as "NotFound" rather than "NoSuchKey".
function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "NotFound" || error.name === "NoSuchKey")
  );
}

// The single mapping of SDK, network and credential failures; the message is
// fixed, so nothing from the request (credentials included) reaches callers.
function unavailable(cause: unknown): DependencyUnavailableError {
  return new DependencyUnavailableError("object store", cause);
}
