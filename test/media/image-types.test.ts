import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOWED_IMAGE_TYPES, SNIFF_BYTES, sniffImageType } from "../../src/media/image-types.js";
import { animated, photo, solid } from "../support/images.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sniff-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sniffImageType", () => {
  it("allows exactly JPEG, PNG, GIF and WebP", () => {
    expect([...ALLOWED_IMAGE_TYPES].sort()).toEqual(["image/gif", "image/jpeg", "image/png", "image/webp"]);
    expect(SNIFF_BYTES).toBe(4100);
  });

  it.each([
    ["jpeg", "image/jpeg"],
    ["png", "image/png"],
    ["gif", "image/gif"],
    ["webp", "image/webp"],
  ] as const)("recognises %s by its bytes", async (format, mime) => {
    expect(await sniffImageType(await solid(64, 48, format))).toBe(mime);
  });

  it("recognises animated GIF and WebP", async () => {
    expect(await sniffImageType(await animated("gif"))).toBe("image/gif");
    expect(await sniffImageType(await animated("webp"))).toBe("image/webp");
  });

  it("needs only the first SNIFF_BYTES bytes, and accepts a longer head", async () => {
    const big = await photo(600, 400, "png");
    expect(big.length).toBeGreaterThan(SNIFF_BYTES);
    expect(await sniffImageType(big.subarray(0, SNIFF_BYTES))).toBe("image/png");
    expect(await sniffImageType(big)).toBe("image/png");
  });

  it("refuses an HTML document named like a PNG: the name does not matter", async () => {
    const path = join(dir, "innocent.png");
    await writeFile(path, "<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>");
    expect(await sniffImageType(await readFile(path))).toBeUndefined();
  });

  it.each([
    ["empty", Buffer.alloc(0)],
    ["plain text", Buffer.from("just some text, nothing to see here\n")],
    ["JSON", Buffer.from('{"a":1}')],
    ["SVG", Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')],
    ["SVG with XML prolog", Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')],
    ["PDF", Buffer.from("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")],
    ["zeros", Buffer.alloc(5000)],
  ])("refuses %s", async (_label, bytes) => {
    expect(await sniffImageType(bytes)).toBeUndefined();
  });

  it("refuses image formats that are not allowed (TIFF, AVIF)", async () => {
    const base = sharp({ create: { width: 16, height: 16, channels: 3, background: "#888" } });
    expect(await sniffImageType(await base.clone().tiff().toBuffer())).toBeUndefined();
    expect(await sniffImageType(await base.clone().avif().toBuffer())).toBeUndefined();
  });

  // What file-type 22 does with damaged PNGs: it walks the chunks after the
  // signature, so the signature alone is not enough...
  it("refuses a PNG signature followed by garbage (file-type wants an IHDR chunk next)", async () => {
    const signature = (await solid(8, 8, "png")).subarray(0, 8);
    expect(await sniffImageType(signature)).toBeUndefined();
    expect(await sniffImageType(Buffer.concat([signature, Buffer.from("garbage, not a chunk at all".repeat(20))]))).toBeUndefined();
  });

  // ...but a real PNG cut short after its header still sniffs as PNG. Sniffing
  // is magic numbers only; decoding (processImage) is what refuses it.
  it("accepts a PNG truncated after its header: sniffing does not decode", async () => {
    const png = await photo(200, 100, "png");
    expect(await sniffImageType(png.subarray(0, 100))).toBe("image/png");
  });
});
