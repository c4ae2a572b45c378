// Bytes that pass through the service (UploadFile, UploadFileStream) go to a
// temp file as they arrive, hashed and counted on the way, so a 20 MiB upload
// never sits in memory whole and eight at once stay cheap. The upload is
// refused the moment it breaks a rule: past the size limit, or first bytes
// that are not the declared image type.
import { createHash, randomUUID } from "node:crypto";
import { open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { SNIFF_BYTES, sniffImageType } from "../media/image-types.js";

export interface IntakeRules {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** For messages: "the 10485760-byte limit for profile pictures". */
  limitDescription: string;
  /** The type the caller declared (already validated against the filename). */
  declaredType: string;
}

export interface ReceivedFile {
  /** A temp file holding the bytes; call discard() when done. */
  path: string;
  size: number;
  sha256: string;
  /** Base64, as Content-MD5. */
  md5: string;
  discard(): Promise<void>;
}

export async function receiveUpload(chunks: AsyncIterable<Uint8Array>, rules: IntakeRules): Promise<ReceivedFile> {
  const path = join(tmpdir(), `file-service-upload-${randomUUID()}`);
  const discard = () => rm(path, { force: true });
  let file: FileHandle | undefined;
  try {
    file = await open(path, "wx", 0o600);
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    let size = 0;
    let head: Buffer | undefined = Buffer.alloc(0);
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      size += chunk.length;
      if (size > rules.maxBytes) {
        throw new ConnectError(`data: the file is larger than ${rules.limitDescription}`, Code.InvalidArgument);
      }
      if (head !== undefined) {
        head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
        if (head.length >= SNIFF_BYTES) {
          await checkType(head, rules.declaredType);
          head = undefined;
        }
      }
      sha256.update(chunk);
      md5.update(chunk);
      await file.write(chunk);
    }
    if (size === 0) throw new ConnectError("data: the file is empty", Code.InvalidArgument);
    if (head !== undefined) await checkType(head, rules.declaredType);
    await file.close();
    file = undefined;
    return { path, size, sha256: sha256.digest("hex"), md5: md5.digest("base64"), discard };
  } catch (e) {
    await file?.close().catch(() => {});
    await discard();
    throw e;
  }
}

/** The type is decided by the bytes: the declared type must be what they are. */
async function checkType(head: Uint8Array, declaredType: string): Promise<void> {
  const actual = await sniffImageType(head);
  if (actual === undefined) {
    throw new ConnectError("data: the bytes are not an image of an allowed type (JPEG, PNG, GIF or WebP)", Code.InvalidArgument);
  }
  if (actual !== declaredType) {
    throw new ConnectError(`content_type: the bytes are ${actual}, not ${declaredType}`, Code.InvalidArgument);
  }
}
