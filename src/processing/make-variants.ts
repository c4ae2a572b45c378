// Original bytes → variants stored beside it → the result to record. Shared by
// the worker (presigned uploads, async processing) and synchronous uploads.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { FilePurpose, ProcessingResult } from "../domain/file.js";
import type { ObjectStore } from "../storage/object-store.js";
import { processImage } from "../media/image-processor.js";
import { variantKeyFor } from "../storage/object-keys.js";

export interface ImageSettings {
  /** Default WebP quality of the variants. */
  webpQuality: number;
  /** Images with more pixels are refused before decoding (decompression bombs). */
  maxPixels: number;
}

export interface MakeVariantsInput {
  fileId: string;
  purpose: FilePurpose;
  /** The original: bytes, or a file holding them. */
  source: Buffer | { path: string };
  /** Known already (uploads through the service hash while receiving). */
  sha256?: string;
  webpQuality: number | null;
}

/** Throws ImageRejectedError for bytes that are not an acceptable image. */
export async function makeVariants(
  input: MakeVariantsInput,
  objects: ObjectStore,
  settings: ImageSettings,
): Promise<ProcessingResult> {
  const source = Buffer.isBuffer(input.source) ? input.source : input.source.path;
  const processed = await processImage(source, {
    purpose: input.purpose,
    webpQuality: input.webpQuality ?? settings.webpQuality,
    maxPixels: settings.maxPixels,
  });
  const variants = await Promise.all(
    processed.variants.map(async (v) => {
      const objectKey = variantKeyFor(input.fileId, v.name);
      await objects.put({
        key: objectKey,
        body: v.data,
        contentType: v.contentType,
        contentLength: v.data.length,
        md5: createHash("md5").update(v.data).digest("base64"),
      });
      return { name: v.name, width: v.width, height: v.height, contentType: v.contentType, sizeBytes: v.data.length, objectKey };
    }),
  );
  const sha256 =
    input.sha256 ??
    createHash("sha256")
      .update(Buffer.isBuffer(input.source) ? input.source : await readFile(input.source.path))
      .digest("hex");
  return { sha256, width: processed.width, height: processed.height, blurhash: processed.blurhash, variants };
}
