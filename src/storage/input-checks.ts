// What every ObjectStore checks of its input before touching bytes: the same
// rules, so a caller's bug reads the same whichever store it reaches.
import { open, type FileHandle } from "node:fs/promises";
import type { PutObjectInput } from "./object-store.js";

/** Canonical padded base64 of exactly 16 bytes, as HTTP Content-MD5 carries an MD5. */
export function isBase64Md5(value: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(value) && Buffer.from(value, "base64").length === 16;
}

/** A whole, non-negative length, and bytes in hand that are exactly that long. */
export function assertPutInput(input: PutObjectInput): void {
  const { body, contentLength } = input;
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new Error("contentLength must be a non-negative integer");
  }
  if (Buffer.isBuffer(body) && body.length !== contentLength) {
    throw new Error(`put: the body holds ${body.length} bytes, not contentLength ${contentLength}`);
  }
}

/** The bytes from `start` to `end` inclusive: whole, non-negative, in order. */
export function assertRange(range: { start: number; end: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new Error(`invalid range ${start}-${end}`);
  }
}

/** The caller's file opened for reading, checked to hold exactly `contentLength` bytes. */
export async function openSourceFile(path: string, contentLength: number): Promise<FileHandle> {
  const handle = await open(path, "r");
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size !== contentLength) {
      throw new Error(`put: ${path} holds ${stats.size} bytes, not contentLength ${contentLength}`);
    }
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}
