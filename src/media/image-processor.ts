// Turns an uploaded image into its WebP variants and a BlurHash.
//
// Order of checks, cheapest first, nothing decoded until all pass:
//   1. the first bytes must be a JPEG, PNG, GIF or WebP (magic numbers; other
//      formats sharp could read, SVG, TIFF, HEIF..., never reach it);
//   2. the header's width x height must be within the pixel limit (sharp reads
//      the header only), so a decompression bomb is refused before any pixel
//      is decoded;
//   3. decoding must succeed (truncated or corrupt data is refused).
//
// Decoding happens once: the input is decoded (with JPEG/WebP shrink-on-load),
// auto-oriented from its EXIF and reduced to the scale the largest variant
// needs, kept as raw pixels, and every variant and the BlurHash are made from
// those pixels in parallel. That intermediate never exceeds the original's size
// and INTERMEDIATE_MAX_PIXELS; past that (extreme aspect ratios under a cover
// crop) each variant streams from the input instead, which costs a decode per
// variant but little memory.
//
// Outputs carry no metadata: sharp drops EXIF (GPS included), XMP and IPTC
// unless asked to keep them, and this module never asks.
import { open } from "node:fs/promises";
import type { Region, Sharp, SharpOptions } from "sharp";
import { loadSharp } from "./sharp-loader.js";
import type { FilePurpose } from "../domain/file.js";
import { ImageRejectedError } from "../domain/errors.js";
import { BLURHASH_SAMPLE_SIZE, blurhashOf } from "./blurhash.js";
import { SNIFF_BYTES, sniffImageType } from "./image-types.js";
import { variantSpecsFor, type VariantSpec } from "./variant-specs.js";

export const DEFAULT_WEBP_QUALITY = 82;
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** Above this many pixels the decoded intermediate is not kept (see the top of the file). */
export const INTERMEDIATE_MAX_PIXELS = 8_000_000;

export interface ProcessImageOptions {
  purpose: FilePurpose;
  /** WebP quality, an integer 1-100; DEFAULT_WEBP_QUALITY when absent. */
  webpQuality?: number | null;
  /** Largest width x height accepted (of one frame); DEFAULT_MAX_PIXELS when absent. */
  maxPixels?: number | null;
}

export interface ProcessedVariant {
  name: string;
  width: number;
  height: number;
  contentType: "image/webp";
  data: Buffer;
}

export interface ProcessedImage {
  /** The input's format as sharp decoded it: "jpeg", "png", "gif" or "webp". */
  format: string;
  /** Of the original, upright (EXIF orientation applied). */
  width: number;
  height: number;
  blurhash: string;
  /** In the order of variantSpecsFor(purpose): smallest first. */
  variants: ProcessedVariant[];
}

const DECODABLE_FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "gif", "webp"]);

/**
 * Variants and BlurHash of an image held in memory or in a file (a path).
 * Throws ImageRejectedError when the content is not an acceptable image, and
 * RangeError for invalid options; anything else (a missing file, say) propagates.
 */
export async function processImage(input: Buffer | string, options: ProcessImageOptions): Promise<ProcessedImage> {
  const sharp = await loadSharp();
  const quality = integerOption("webpQuality", options.webpQuality ?? DEFAULT_WEBP_QUALITY, 1, 100);
  const maxPixels = integerOption("maxPixels", options.maxPixels ?? DEFAULT_MAX_PIXELS, 1, Number.MAX_SAFE_INTEGER);
  const specs = variantSpecsFor(options.purpose);

  if ((await sniffImageType(await readHead(input))) === undefined) {
    throw new ImageRejectedError("unsupported_type", "the content is not a JPEG, PNG, GIF or WebP image");
  }

  const decoding: SharpOptions = {
    // Refuse truncated and corrupt data; tolerate what libjpeg & co. only warn
    // about (browsers show those images too).
    failOn: "error",
    limitInputPixels: maxPixels,
    autoOrient: true,
    // The first frame of an animated GIF or WebP.
    pages: 1,
  };

  // Header only: no pixel is decoded, whatever the header claims.
  const header = await fromInput(() => sharp(input, { ...decoding, limitInputPixels: false }).metadata());
  if (!DECODABLE_FORMATS.has(header.format)) {
    throw new ImageRejectedError("unsupported_type", "the content is not a JPEG, PNG, GIF or WebP image");
  }
  if (header.width * header.height > maxPixels) {
    throw new ImageRejectedError(
      "too_many_pixels",
      `image is ${header.width}x${header.height} pixels, more than the ${maxPixels}-pixel limit`,
    );
  }
  const width = header.autoOrient.width;
  const height = header.autoOrient.height;

  const scale = Math.min(
    1,
    Math.max(BLURHASH_SAMPLE_SIZE / Math.max(width, height), ...specs.map((spec) => scaleFor(spec, width, height))),
  );
  const middleWidth = Math.max(1, Math.round(width * scale));
  const middleHeight = Math.max(1, Math.round(height * scale));

  // Either raw pixels decoded once, or (streaming) the input itself.
  let upright: () => Sharp;
  let sourceWidth = width;
  let sourceHeight = height;
  let guard: <T>(step: () => Promise<T>) => Promise<T>;
  if (middleWidth * middleHeight <= INTERMEDIATE_MAX_PIXELS) {
    const decoded = await fromInput(() => {
      const pipeline = sharp(input, decoding);
      if (scale < 1) pipeline.resize(middleWidth, middleHeight, { fit: "fill" });
      return pipeline.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    });
    const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
    upright = () => sharp(decoded.data, { raw });
    sourceWidth = raw.width;
    sourceHeight = raw.height;
    // Pixels we decoded ourselves: a failure now is not the input's fault.
    guard = (step) => step();
  } else {
    const base = sharp(input, decoding);
    upright = () => base.clone();
    guard = fromInput;
  }

  const blurhashStep = guard(() => blurhashOf(upright()));
  const variantSteps = specs.map((spec) => guard(() => renderVariant(upright(), sourceWidth, sourceHeight, spec, quality)));
  await settle([blurhashStep, ...variantSteps]);
  const blurhash = await blurhashStep;
  const variants = await Promise.all(variantSteps);
  return { format: header.format, width, height, blurhash, variants };
}

async function renderVariant(
  source: Sharp,
  sourceWidth: number,
  sourceHeight: number,
  spec: VariantSpec,
  quality: number,
): Promise<ProcessedVariant> {
  const pipeline =
    spec.fit === "cover"
      ? // Crop to the box's aspect ratio first, then scale: sharp's own "cover"
        // scales first, which for a very long strip (1x40000 into 1600x600)
        // means an intermediate taller than libvips can address.
        source.extract(centredCrop(sourceWidth, sourceHeight, spec)).resize(spec.width, spec.height, { fit: "fill" })
      : source.resize(spec.width, spec.height, { fit: "inside", withoutEnlargement: true });
  const { data, info } = await pipeline.webp({ quality }).toBuffer({ resolveWithObject: true });
  return { name: spec.name, width: info.width, height: info.height, contentType: "image/webp", data };
}

/** The largest centred region of a width x height image with the box's aspect ratio. */
function centredCrop(width: number, height: number, box: { width: number; height: number }): Region {
  const aspect = box.width / box.height;
  const cropWidth = Math.min(width, Math.max(1, Math.round(height * aspect)));
  const cropHeight = Math.min(height, Math.max(1, Math.round(width / aspect)));
  return {
    left: Math.floor((width - cropWidth) / 2),
    top: Math.floor((height - cropHeight) / 2),
    width: cropWidth,
    height: cropHeight,
  };
}

/** The scale of the upright source a variant is made at (cover crops may enlarge). */
function scaleFor(spec: VariantSpec, width: number, height: number): number {
  return spec.fit === "cover"
    ? Math.max(spec.width / width, spec.height / height)
    : Math.min(spec.width / width, spec.height / height, 1);
}

async function readHead(input: Buffer | string): Promise<Uint8Array> {
  if (typeof input !== "string") return input.subarray(0, SNIFF_BYTES);
  const file = await open(input, "r");
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(head, 0, SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

// What sharp's decoders say about data they cannot (or may not) decode. sharp
// throws plain Errors, so their words are all there is to tell these from
// failures of the machine ("Input file is missing", out of memory, ...).
// "Unknown error" is what sharp reports when libvips' error buffer, which is
// process-wide, was emptied by another pipeline failing at the same moment: the
// variants of a corrupt file streaming in parallel do that to each other. It
// is only taken for a refusal while reading the input.
const INPUT_ERROR = new RegExp(
  [
    "unsupported image format",
    "corrupt header",
    "exceeds pixel limit",
    "Input Buffer is empty",
    "VipsJpeg",
    "jpegload",
    "vipspng",
    "pngload",
    "spng",
    "gifload",
    "webpload",
    "webp: unable to parse",
    "premature end",
    "unexpected end",
    "truncated",
    "read error",
    "invalid frame",
    "corrupt",
    "^Unknown error$",
  ].join("|"),
  "i",
);

async function fromInput<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof Error && !(error instanceof ImageRejectedError) && INPUT_ERROR.test(error.message)) {
      if (/exceeds pixel limit/i.test(error.message)) {
        throw new ImageRejectedError("too_many_pixels", "image has more pixels than the limit", { cause: error });
      }
      throw new ImageRejectedError("undecodable", "the image data is corrupt or truncated", { cause: error });
    }
    throw error;
  }
}

/** Waits for every step (none left running in the background), then throws the first error, if any. */
async function settle(steps: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((result) => result.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}
