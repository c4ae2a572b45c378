// A header-only look at an image, for uploads processed later: refuses
// decompression bombs and unreadable data before anything is stored.
import { loadSharp } from "./sharp-loader.js";
import { ImageRejectedError } from "../domain/errors.js";

export async function inspectImage(path: string, maxPixels: number): Promise<{ width: number; height: number }> {
  try {
    // Header only, with our own size check below: sharp would refuse a bomb with a vaguer message.
    const sharp = await loadSharp();
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    if (meta.width === undefined || meta.height === undefined) throw new Error("no dimensions");
    if (meta.width * meta.height > maxPixels) {
      throw new ImageRejectedError(
        "too_many_pixels",
        `image is ${meta.width}x${meta.height} pixels, more than the ${maxPixels}-pixel limit`,
      );
    }
    return { width: meta.width, height: meta.height };
  } catch (e) {
    if (e instanceof ImageRejectedError) throw e;
    throw new ImageRejectedError("undecodable", "the image cannot be read", { cause: e });
  }
}
