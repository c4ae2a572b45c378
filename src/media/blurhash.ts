// BlurHash placeholders (https://blurha.sh): a few DCT components of a tiny
// downscale, enough for a client to paint a blurred preview before the image
// arrives.
import { encode } from "blurhash";
import type { Sharp } from "sharp";

export const BLURHASH_COMPONENTS_X = 4;
export const BLURHASH_COMPONENTS_Y = 3;

/** The long side of the downscale the hash is computed from. */
export const BLURHASH_SAMPLE_SIZE = 32;

/** The hash of RGBA pixels (4 bytes a pixel, row by row). */
export function blurhashFromRgba(rgba: Uint8Array, width: number, height: number): string {
  if (width < 1 || height < 1 || rgba.byteLength !== width * height * 4) {
    throw new RangeError(`expected ${width}x${height} RGBA pixels, got ${rgba.byteLength} bytes`);
  }
  const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return encode(pixels, width, height, BLURHASH_COMPONENTS_X, BLURHASH_COMPONENTS_Y);
}

/**
 * The hash of an image, given a sharp pipeline that yields it upright (it is
 * cloned, not consumed). Transparent areas count as white, since BlurHash has
 * no alpha and the colour under a transparent pixel is arbitrary.
 */
export async function blurhashOf(upright: Sharp): Promise<string> {
  const { data, info } = await upright
    .clone()
    .resize(BLURHASH_SAMPLE_SIZE, BLURHASH_SAMPLE_SIZE, { fit: "inside" })
    .flatten({ background: "#ffffff" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return blurhashFromRgba(data, info.width, info.height);
}
