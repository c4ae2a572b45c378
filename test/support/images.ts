// Images made in the tests: real encoders (sharp; PNGs by hand where a test
// needs bytes no encoder would write), known content.
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";

/** A PNG of Gaussian noise (barely compressible) of about `bytes` bytes, never more. */
export async function noisePng(bytes: number): Promise<Buffer> {
  let side = Math.floor(Math.sqrt(bytes / 3));
  for (;;) {
    const png = await sharp({
      create: { width: side, height: side, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 60 } },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    if (png.length <= bytes) return png;
    side = Math.floor(side * Math.sqrt(bytes / png.length)) - 1;
  }
}

/** An HTML page: what a browser would render if we ever served it as an image. */
export function htmlBytes(): Buffer {
  return Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n".repeat(20));
}

/**
 * A PNG whose header claims `width` x `height`, with pixel data for only a few
 * rows: a decompression bomb's header at the cost of a few kilobytes.
 */
export function bombPng(width: number, height: number, rows = 1): Buffer {
  return encodePng(width, height, deflateSync(Buffer.alloc(rows * (3 * width + 1))));
}

/** A valid black RGB PNG, encoded synchronously (for fixtures that need no sharp). */
export function blackPng(width: number, height: number): Buffer {
  return encodePng(width, height, deflateSync(Buffer.alloc((3 * width + 1) * height)));
}

function encodePng(width: number, height: number, idat: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

export type Format = "jpeg" | "png" | "gif" | "webp";

export async function solid(width: number, height: number, format: Format, color = "#3366cc"): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).toFormat(format).toBuffer();
}

/** Photo-like content (a gradient under blurred noise): compresses and decodes like a real photo. */
export async function photo(width: number, height: number, format: Format = "jpeg"): Promise<Buffer> {
  const noise = await sharp({
    create: { width, height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 60 } },
  })
    .blur(2)
    .png({ compressionLevel: 1 })
    .toBuffer();
  const gradient = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<defs><linearGradient id="g"><stop offset="0" stop-color="#c33"/><stop offset="1" stop-color="#36c"/></linearGradient></defs>` +
      `<rect width="100%" height="100%" fill="url(#g)"/></svg>`,
  );
  const composed = sharp(gradient).composite([{ input: noise, blend: "overlay" }]);
  return format === "jpeg" ? composed.jpeg({ quality: 90 }).toBuffer() : composed.toFormat(format).toBuffer();
}

/**
 * Upright, the image is `width` x `height` with a red top half and a blue
 * bottom half. Stored, its pixels are turned 90 degrees anticlockwise
 * (`height` x `width`, red on the left), with EXIF orientation 6 ("turn 90
 * degrees clockwise to display"), a copyright and GPS coordinates. A decoder
 * that ignores the orientation shows it sideways.
 */
export async function sidewaysWithGps(width: number, height: number, format: Exclude<Format, "gif">): Promise<Buffer> {
  const red = { create: { width: Math.floor(height / 2), height: width, channels: 3, background: "#ff0000" } } as const;
  const stored = await sharp({ create: { width: height, height: width, channels: 3, background: "#0000ff" } })
    .composite([{ input: red, left: 0, top: 0 }])
    .png()
    .toBuffer();
  return sharp(stored)
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Copyright: COPYRIGHT_MARKER }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "51/1 30/1 1234/100" } })
    .toFormat(format)
    .toBuffer();
}

export const COPYRIGHT_MARKER = "MARKER-COPYRIGHT-42";

/** GPSLatitude 51/1 30/1 1234/100 as TIFF rationals, little-endian (sharp writes "II" EXIF). */
export const GPS_LATITUDE_BYTES = Buffer.concat(
  [51, 1, 30, 1, 1234, 100].map((n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  }),
);

/** A two-frame animation: red, then blue. */
export async function animated(format: "gif" | "webp", width = 60, height = 40): Promise<Buffer> {
  const red = await solid(width, height, "png", "#ff0000");
  const blue = await solid(width, height, "png", "#0000ff");
  return sharp([red, blue], { join: { animated: true } }).toFormat(format).toBuffer();
}

/** The RGB of the pixel at (x, y). */
export async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}
