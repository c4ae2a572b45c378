// Images made on the spot with sharp (and, for the decompression bomb, by hand).
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";

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

/**
 * A PNG whose header claims width x height, with pixel data for only a few
 * rows: a decompression bomb's header at the cost of a few kilobytes.
 */
export function pngBombHeader(width: number, height: number, rows = 4): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typeAndData));
    return Buffer.concat([length, typeAndData, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour (RGB)
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const scanlines = Buffer.alloc(rows * (1 + width * 3)); // filter byte 0 + black pixels, per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(scanlines)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** The RGB of the pixel at (x, y). */
export async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}
