import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, isBlurhashValid } from "blurhash";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilePurpose } from "../../src/domain/file.js";
import { ImageRejectedError } from "../../src/domain/errors.js";
import {
  DEFAULT_MAX_PIXELS,
  INTERMEDIATE_MAX_PIXELS,
  processImage,
  type ProcessedImage,
} from "../../src/media/image-processor.js";
import {
  animated,
  COPYRIGHT_MARKER,
  GPS_LATITUDE_BYTES,
  photo,
  pixelAt,
  bombPng,
  sidewaysWithGps,
  solid,
} from "../support/images.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "media-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sizes = (image: ProcessedImage): string => image.variants.map((v) => `${v.name} ${v.width}x${v.height}`).join(", ");

async function rejection(promise: Promise<unknown>): Promise<ImageRejectedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return error as ImageRejectedError;
}

const isRed = ([r, g, b]: [number, number, number]) => r > 200 && g < 60 && b < 60;
const isBlue = ([r, g, b]: [number, number, number]) => b > 200 && r < 60 && g < 60;

describe("processImage: variants", () => {
  let source: Buffer;
  beforeAll(async () => {
    source = await photo(1200, 800);
  });

  it.each<[FilePurpose, string]>([
    ["profile_picture", "thumb 150x150, medium 300x300, large 600x600"],
    ["avatar", "thumb 150x150, medium 300x300, large 600x600"],
    ["cover_photo", "thumb 400x150, medium 800x300, large 1600x600"],
    ["post_attachment", "thumb 320x213, large 1080x720"],
    ["message_attachment", "thumb 320x213, large 1080x720"],
    ["story", "thumb 320x213, large 1080x720"],
    ["unspecified", "thumb 320x213, large 1080x720"],
  ])("a 1200x800 JPEG for %s gives %s", async (purpose, expected) => {
    const image = await processImage(source, { purpose });
    expect(image.format).toBe("jpeg");
    expect([image.width, image.height]).toEqual([1200, 800]);
    expect(sizes(image)).toBe(expected);
    for (const variant of image.variants) {
      expect(variant.contentType).toBe("image/webp");
      const meta = await sharp(variant.data).metadata();
      expect(meta.format).toBe("webp");
      expect([meta.width, meta.height]).toEqual([variant.width, variant.height]);
    }
  });

  it("never enlarges attachments: a 100x80 source stays 100x80", async () => {
    const small = await photo(100, 80);
    for (const purpose of ["post_attachment", "message_attachment", "story", "unspecified"] as const) {
      expect(sizes(await processImage(small, { purpose }))).toBe("thumb 100x80, large 100x80");
    }
  });

  it("fills the cover boxes exactly, even from a 100x80 source", async () => {
    const small = await photo(100, 80);
    expect(sizes(await processImage(small, { purpose: "avatar" }))).toBe("thumb 150x150, medium 300x300, large 600x600");
    expect(sizes(await processImage(small, { purpose: "cover_photo" }))).toBe("thumb 400x150, medium 800x300, large 1600x600");
  });

  it("crops cover variants around the centre", async () => {
    // 300x100: left third red, middle green, right third blue; a centred square crop is all green.
    const third = (color: string) => ({ create: { width: 100, height: 100, channels: 3 as const, background: color } });
    const striped = await sharp({ create: { width: 300, height: 100, channels: 3, background: "#000" } })
      .composite([
        { input: third("#ff0000"), left: 0, top: 0 },
        { input: third("#00ff00"), left: 100, top: 0 },
        { input: third("#0000ff"), left: 200, top: 0 },
      ])
      .png()
      .toBuffer();
    const image = await processImage(striped, { purpose: "avatar" });
    const thumb = image.variants[0]!;
    for (const x of [5, 75, 144]) {
      const [r, g, b] = await pixelAt(thumb.data, x, 75);
      expect(g).toBeGreaterThan(200);
      expect(r + b).toBeLessThan(80);
    }
  });

  it.each(["jpeg", "png", "gif", "webp"] as const)("reads %s and reports the format sharp decoded", async (format) => {
    const image = await processImage(await solid(640, 480, format, "#ff0000"), { purpose: "post_attachment" });
    expect(image.format).toBe(format);
    expect(sizes(image)).toBe("thumb 320x240, large 640x480");
    expect(isRed(await pixelAt(image.variants[0]!.data, 160, 120))).toBe(true);
  });

  it("reads a file path as well as a buffer", async () => {
    const path = join(dir, "photo.jpg");
    await writeFile(path, source);
    const fromPath = await processImage(path, { purpose: "cover_photo" });
    const fromBuffer = await processImage(source, { purpose: "cover_photo" });
    expect(sizes(fromPath)).toBe(sizes(fromBuffer));
    expect(fromPath.blurhash).toBe(fromBuffer.blurhash);
  });

  it.each(["gif", "webp"] as const)("uses the first frame of an animated %s", async (format) => {
    const image = await processImage(await animated(format), { purpose: "post_attachment" });
    expect([image.width, image.height]).toEqual([60, 40]);
    for (const variant of image.variants) {
      const meta = await sharp(variant.data).metadata();
      expect(meta.pages ?? 1).toBe(1);
      expect(isRed(await pixelAt(variant.data, 30, 20))).toBe(true);
    }
  });

  it("keeps transparency", async () => {
    const translucent = await sharp({ create: { width: 200, height: 100, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const image = await processImage(translucent, { purpose: "avatar" });
    const { data } = await sharp(image.variants[0]!.data).raw().toBuffer({ resolveWithObject: true });
    expect((await sharp(image.variants[0]!.data).metadata()).hasAlpha).toBe(true);
    expect(data[3]).toBeGreaterThan(100);
    expect(data[3]).toBeLessThan(155);
  });

  it("converts CMYK, greyscale and 16-bit sources to ordinary sRGB WebP", async () => {
    const red = sharp({ create: { width: 120, height: 90, channels: 3, background: "#ff0000" } });
    const cmyk = await red.clone().toColourspace("cmyk").jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    const cmykOut = await processImage(cmyk, { purpose: "post_attachment" });
    const [r, g, b] = await pixelAt(cmykOut.variants[0]!.data, 60, 45);
    expect(r).toBeGreaterThan(180);
    expect(g + b).toBeLessThan(120);

    const grey = await red.clone().greyscale().jpeg().toBuffer();
    const greyOut = await processImage(grey, { purpose: "avatar" });
    expect(sizes(greyOut)).toBe("thumb 150x150, medium 300x300, large 600x600");

    const deep = await red.clone().toColourspace("rgb16").png().toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe("ushort");
    const deepOut = await processImage(deep, { purpose: "post_attachment" });
    expect(isRed(await pixelAt(deepOut.variants[0]!.data, 60, 45))).toBe(true);
  });

  it("handles extreme aspect ratios under a cover crop (the streaming path)", async () => {
    // 25000x400 = 10 MP: a 600x600 crop needs it at full scale, more than the intermediate may hold.
    const strip = await solid(25_000, 400, "png", "#00ff00");
    expect(sizes(await processImage(strip, { purpose: "avatar" }))).toBe("thumb 150x150, medium 300x300, large 600x600");
    const tall = await solid(400, 25_000, "png", "#00ff00");
    const cover = await processImage(tall, { purpose: "cover_photo" });
    expect(sizes(cover)).toBe("thumb 400x150, medium 800x300, large 1600x600");
    expect(isValid4x3(cover.blurhash)).toBe(true);
    expect(sizes(await processImage(strip, { purpose: "story" }))).toBe("thumb 320x5, large 1080x17");
    // One pixel wide or high: sharp's own "cover" would scale a 1x40000 strip to
    // 1600x64000000 before cropping, past what libvips can address.
    const thread = await solid(1, 40_000, "png", "#00ff00");
    expect(sizes(await processImage(thread, { purpose: "cover_photo" }))).toBe("thumb 400x150, medium 800x300, large 1600x600");
    const wire = await solid(40_000, 1, "png", "#00ff00");
    expect(sizes(await processImage(wire, { purpose: "avatar" }))).toBe("thumb 150x150, medium 300x300, large 600x600");
    expect(sizes(await processImage(await solid(1, 1, "png"), { purpose: "story" }))).toBe("thumb 1x1, large 1x1");
  });
});

function isValid4x3(hash: string): boolean {
  // 1 size char ("L" = (4-1) + (3-1)*9 in base 83), 1 max-AC char, 4 DC chars, 2 per AC component.
  return isBlurhashValid(hash).result && hash.length === 6 + 2 * (4 * 3 - 1) && hash.startsWith("L");
}

describe("processImage: orientation and privacy", () => {
  it.each([
    ["jpeg", 1200, 800],
    ["webp", 1200, 800],
    ["png", 1200, 800],
    // 20000x500 (10 MP) under a cover crop needs full scale: more than
    // INTERMEDIATE_MAX_PIXELS, so the variants stream from the input.
    ["jpeg", 20_000, 500],
  ] as const)(
    "a %s (%ix%i upright) with EXIF orientation 6 and GPS comes out upright, without EXIF or GPS",
    async (format, width, height) => {
      const input = await sidewaysWithGps(width, height, format);
      // The input really is stored sideways, with the metadata we mean to strip.
      const inputMeta = await sharp(input).metadata();
      expect([inputMeta.width, inputMeta.height, inputMeta.orientation]).toEqual([height, width, 6]);
      expect(inputMeta.exif?.includes(GPS_LATITUDE_BYTES)).toBe(true);
      expect(input.includes(COPYRIGHT_MARKER)).toBe(true);
      expect(isRed(await pixelAt(input, 10, width / 2))).toBe(true); // red on the left as stored
      expect(isBlue(await pixelAt(input, height - 10, width / 2))).toBe(true);

      const streaming = width * height > INTERMEDIATE_MAX_PIXELS;
      const purposes = streaming ? (["avatar", "cover_photo"] as const) : (["post_attachment", "avatar", "cover_photo"] as const);
      for (const purpose of purposes) {
        const image = await processImage(input, { purpose });
        expect([image.width, image.height]).toEqual([width, height]);
        if (purpose === "post_attachment") expect(sizes(image)).toBe("thumb 320x213, large 1080x720");
        for (const variant of image.variants) {
          const meta = await sharp(variant.data).metadata();
          expect(meta.exif).toBeUndefined();
          expect(meta.xmp).toBeUndefined();
          expect(meta.orientation).toBeUndefined();
          expect(variant.data.includes("Exif")).toBe(false);
          expect(variant.data.includes("EXIF")).toBe(false);
          expect(variant.data.includes(COPYRIGHT_MARKER)).toBe(false);
          expect(variant.data.includes(GPS_LATITUDE_BYTES)).toBe(false);
          // Visual top is on top: red rows above, blue rows below.
          const x = Math.floor(variant.width / 2);
          expect(isRed(await pixelAt(variant.data, x, 2))).toBe(true);
          expect(isRed(await pixelAt(variant.data, 2, Math.floor(variant.height * 0.2)))).toBe(true);
          expect(isBlue(await pixelAt(variant.data, x, variant.height - 3))).toBe(true);
          expect(isBlue(await pixelAt(variant.data, variant.width - 3, Math.floor(variant.height * 0.8)))).toBe(true);
        }
      }
    },
  );

  it("computes the blurhash from the upright image", async () => {
    const image = await processImage(await sidewaysWithGps(1200, 800, "jpeg"), { purpose: "post_attachment" });
    expect(isValid4x3(image.blurhash)).toBe(true);
    const preview = decode(image.blurhash, 30, 20);
    const at = (x: number, y: number) => {
      const i = (y * 30 + x) * 4;
      return { r: preview[i]!, b: preview[i + 2]! };
    };
    expect(at(15, 1).r).toBeGreaterThan(at(15, 1).b + 100);
    expect(at(15, 18).b).toBeGreaterThan(at(15, 18).r + 100);
  });
});

describe("processImage: blurhash and quality", () => {
  it("gives a valid 4x3 blurhash for every format", async () => {
    for (const format of ["jpeg", "png", "gif", "webp"] as const) {
      const image = await processImage(await photo(400, 300, format), { purpose: "avatar" });
      expect(isValid4x3(image.blurhash)).toBe(true);
    }
  });

  it("applies webpQuality (default 82)", async () => {
    const source = await photo(1200, 800);
    const bytes = async (webpQuality?: number) =>
      (await processImage(source, { purpose: "post_attachment", ...(webpQuality === undefined ? {} : { webpQuality }) })).variants[1]!.data
        .length;
    const low = await bytes(30);
    const high = await bytes(95);
    expect(low).toBeLessThan(high * 0.7);
    expect(await bytes()).toBe(await bytes(82));
    const { variants } = await processImage(source, { purpose: "post_attachment", webpQuality: null });
    expect(variants[1]!.data.length).toBe(await bytes(82));
  });

  it.each([0, 101, 50.5, Number.NaN])("refuses webpQuality %s with a RangeError", async (webpQuality) => {
    await expect(processImage(await solid(10, 10, "png"), { purpose: "avatar", webpQuality })).rejects.toThrow(RangeError);
  });

  it("refuses maxPixels 0 with a RangeError", async () => {
    await expect(processImage(await solid(10, 10, "png"), { purpose: "avatar", maxPixels: 0 })).rejects.toThrow(RangeError);
  });
});

describe("processImage: refusals", () => {
  it("refuses a 30000x30000 PNG (header only) quickly, without decoding it", async () => {
    const bomb = bombPng(30_000, 30_000, 4);
    expect(bomb.length).toBeLessThan(10_000);
    const path = join(dir, "bomb.png");
    await writeFile(path, bomb);
    for (const input of [bomb, path]) {
      let peak = process.memoryUsage.rss();
      const before = peak;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 2);
      const started = performance.now();
      try {
        const error = await rejection(processImage(input, { purpose: "post_attachment" }));
        expect(error.reason).toBe("too_many_pixels");
        expect(error.message).toBe(`image is 30000x30000 pixels, more than the ${DEFAULT_MAX_PIXELS}-pixel limit`);
        expect(DEFAULT_MAX_PIXELS).toBe(50_000_000);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(peak - before).toBeLessThan(200 * 1024 * 1024);
    }
  });

  it("applies a configured pixel limit to the stored (not rotated) frame", async () => {
    const source = await photo(1200, 800);
    const error = await rejection(processImage(source, { purpose: "avatar", maxPixels: 959_999 }));
    expect(error.reason).toBe("too_many_pixels");
    expect(error.message).toBe("image is 1200x800 pixels, more than the 959999-pixel limit");
    const image = await processImage(source, { purpose: "avatar", maxPixels: 960_000 });
    expect(image.width).toBe(1200);
  });

  it.each(["jpeg", "png", "gif", "webp"] as const)("refuses a truncated %s", async (format) => {
    const whole = await photo(400, 300, format);
    const error = await rejection(processImage(whole.subarray(0, Math.floor(whole.length * 0.6)), { purpose: "avatar" }));
    expect(error.reason).toBe("undecodable");
    expect(error.message).toBe("the image data is corrupt or truncated");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("refuses truncated images processed concurrently, and still processes the good one among them", async () => {
    // libvips keeps one error buffer for the whole process: failures at the same
    // moment can leave sharp with "Unknown error" instead of the decoder's words.
    const cut = async (format: "jpeg" | "png" | "gif" | "webp") => {
      const whole = await photo(400, 300, format);
      return whole.subarray(0, Math.floor(whole.length * 0.6));
    };
    const broken = await Promise.all((["jpeg", "png", "gif", "webp", "jpeg", "png", "jpeg", "png"] as const).map(cut));
    const good = await photo(400, 300);
    const results = await Promise.allSettled([...broken, good].map((input) => processImage(input, { purpose: "avatar" })));
    for (const result of results.slice(0, -1)) {
      expect(result.status).toBe("rejected");
      const reason = (result as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(ImageRejectedError);
      expect((reason as ImageRejectedError).reason).toBe("undecodable");
    }
    expect(results.at(-1)?.status).toBe("fulfilled");
  });

  it("refuses a truncated image on the streaming path too", async () => {
    // 25000x400 under a cover crop: each variant decodes the input itself.
    const strip = await photo(25_000, 400, "png");
    const error = await rejection(processImage(strip.subarray(0, Math.floor(strip.length * 0.6)), { purpose: "avatar" }));
    expect(error.reason).toBe("undecodable");
  });

  it("refuses a JPEG cut right after its header, and a PNG cut after IHDR", async () => {
    const jpeg = await photo(400, 300, "jpeg");
    expect((await rejection(processImage(jpeg.subarray(0, 700), { purpose: "avatar" }))).reason).toBe("undecodable");
    const png = await photo(400, 300, "png");
    expect((await rejection(processImage(png.subarray(0, 100), { purpose: "avatar" }))).reason).toBe("undecodable");
  });

  it("refuses an HTML document named like a PNG", async () => {
    const path = join(dir, "cat.png");
    await writeFile(path, "<!doctype html><title>x</title><img src=x onerror=alert(1)>");
    const error = await rejection(processImage(path, { purpose: "avatar" }));
    expect(error.reason).toBe("unsupported_type");
    expect(error.message).toBe("the content is not a JPEG, PNG, GIF or WebP image");
  });

  it.each([
    ["empty", async () => Buffer.alloc(0)],
    ["SVG", async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')],
    ["TIFF (which sharp could decode)", async () => sharp({ create: { width: 8, height: 8, channels: 3, background: "#888" } }).tiff().toBuffer()],
    ["a PNG signature followed by garbage", async () => Buffer.concat([(await solid(8, 8, "png")).subarray(0, 8), Buffer.alloc(64, 7)])],
  ])("refuses %s as an unsupported type", async (_label, make) => {
    expect((await rejection(processImage(await make(), { purpose: "avatar" }))).reason).toBe("unsupported_type");
  });

  it("lets other failures through: a missing file is not a refusal", async () => {
    const error = await processImage(join(dir, "missing.jpg"), { purpose: "avatar" }).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ImageRejectedError);
    expect((error as NodeJS.ErrnoException).code).toBe("ENOENT");
  });
});
