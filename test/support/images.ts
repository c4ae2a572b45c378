// Images made in the tests: real encoders, known content.
import { deflateSync } from "node:zlib";
import sharp from "sharp";

export async function pngImage(width: number, height: number, color = "#3a7bd5"): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).png().toBuffer();
}

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

/**
 * A JPEG stored sideways with EXIF orientation 6 (display rotated 90° clockwise)
 * and GPS tags. Stored pixels: left half red, right half blue, 400x200. Shown
 * upright it is 200x400 with red on top.
 */
export async function sidewaysJpegWithGps(): Promise<Buffer> {
  const half = (color: string) => sharp({ create: { width: 200, height: 200, channels: 3, background: color } }).png().toBuffer();
  return sharp({ create: { width: 400, height: 200, channels: 3, background: "#000" } })
    .composite([
      { input: await half("#ff0000"), left: 0, top: 0 },
      { input: await half("#0000ff"), left: 200, top: 0 },
    ])
    .jpeg({ quality: 95 })
    // The orientation goes through withMetadata: an Orientation tag in withExif is not written as such.
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: "TestCam" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 3/1" },
    })
    .toBuffer();
}

/** An HTML page: what a browser would render if we ever served it as an image. */
export function htmlBytes(): Buffer {
  return Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n".repeat(20));
}

/** A tiny PNG whose header claims `width` x `height`: a decompression bomb if decoded. */
export function bombPng(width: number, height: number): Buffer {
  // One row of the claimed width: the file stays small, the header says 900 MP.
  return encodePng(width, height, deflateSync(Buffer.alloc(3 * width + 1)));
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

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
