// The object storage contract. Bytes never pass through the service for the
// presigned flow: the store hands out URLs that the client uses directly.
//
// Implementations throw DependencyUnavailableError when the store cannot be
// reached.

/** S3 refuses presigned URLs valid for longer than 7 days. */
export const MAX_URL_TTL_SECONDS = 7 * 24 * 3600;

export interface PresignPutInput {
  key: string;
  contentType: string;
  contentLength: number;
  /** Base64 of the 16-byte MD5; the store rejects a body with another digest. */
  contentMd5: string;
  expiresInSeconds: number;
}

export interface PresignedRequest {
  url: string;
  /** Every header the client must send, with exactly these values (they are signed). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface PresignGetInput {
  key: string;
  expiresInSeconds: number;
  /** Served as the response's Content-Disposition. */
  contentDisposition: string;
  /** Served as the response's Content-Type. */
  contentType: string;
}

export interface ObjectInfo {
  size: number;
  /** Base64 MD5 of the content, or null when the store cannot tell (e.g. a multipart ETag). */
  md5: string | null;
}

interface PutObjectCommon {
  key: string;
  contentType: string;
  contentLength: number;
}

/** Bytes in hand: in memory, or in a file (streamed, never read whole). */
export interface PutBytesInput extends PutObjectCommon {
  body: Buffer | { path: string };
  /** Base64 MD5 of the bytes; the store refuses them if they differ. */
  md5: string;
}

/**
 * Bytes still arriving: the store reads the stream once, as it yields (never
 * retried: it cannot be rewound). The put fails, and nothing is stored, when
 * the stream throws (the caller aborts it that way) or holds other than
 * exactly `contentLength` bytes.
 */
export interface PutStreamInput extends PutObjectCommon {
  body: { stream: AsyncIterable<Uint8Array> };
  /**
   * Base64 MD5 of the bytes, asked for once the stream has ended (only then is
   * it known); the put fails, and nothing is kept, when the store got other
   * bytes. A store that cannot tell its object's MD5 (e.g. an ETag that is not
   * one) takes the stream's integrity from its transport.
   */
  md5: () => string;
}

export type PutObjectInput = PutBytesInput | PutStreamInput;

/** An object as a listing shows it. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date;
}

/** One page of a listing, in key order. */
export interface ObjectPage {
  objects: ListedObject[];
  /** Hands the next page to list(); absent on the last page. */
  cursor?: string;
}

export function isStreamPut(input: PutObjectInput): input is PutStreamInput {
  return "stream" in input.body;
}

export interface ObjectStore {
  /** Stores bytes that pass through the service (uploads over gRPC, variants). */
  put(input: PutObjectInput): Promise<void>;
  /**
   * Reads an object, or the bytes from `start` to `end` inclusive (clamped to
   * its size). Null when there is no such object.
   */
  get(key: string, range?: { start: number; end: number }): Promise<Buffer | null>;
  presignPut(input: PresignPutInput): Promise<PresignedRequest>;
  presignGet(input: PresignGetInput): Promise<PresignedRequest>;
  /** Size and digest of the object, or null when there is no such object. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Removes the objects (missing ones count as removed). Returns the keys that could not be removed. */
  delete(keys: readonly string[]): Promise<string[]>;
  /**
   * Moves an object to another key, or into another bucket of the same store
   * (S3 only): the source is removed once the copy stands. False (and nothing
   * done) when there is no such object. Used to quarantine bytes out of the
   * served space.
   */
  move(fromKey: string, to: { key: string; bucket?: string }): Promise<boolean>;
  /**
   * One page of at most `limit` objects under `prefix` (which ends with "/"), in
   * key order, after the page that handed out `cursor`: a listing never holds
   * the whole bucket.
   */
  list(input: { prefix: string; cursor?: string; limit: number }): Promise<ObjectPage>;
  /** Resolves when the store (and its bucket) answers. */
  ping(): Promise<void>;
  close(): void;
}
