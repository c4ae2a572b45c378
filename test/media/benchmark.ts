// Not a test (vitest runs *.test.ts only): timings of processImage against
// plain sharp pipelines doing the same resizes.
//   npx tsx test/media/benchmark.ts            (ROUNDS=15 FORMATS=jpeg,png to change)
//
// Strategies, each making every variant of a purpose from a 4000x3000 source:
//   bareSeq   sharp(input).rotate().resize().webp() per variant, one after another
//   barePar   the same, all variants at once (Promise.all)
//   naive     bareSeq plus what processImage adds: sniff, header check, blurhash pipeline
//   clonePar  one sharp(input) pipeline clone()d per variant and for the blurhash, in parallel
//   process   processImage (decode once to the largest scale needed, variants from raw pixels)
// Rounds are interleaved so background load hits every strategy alike.
import { encode } from "blurhash";
import sharp, { type ResizeOptions, type Sharp } from "sharp";
import type { FilePurpose } from "../../src/db/file-repository.js";
import { processImage } from "../../src/media/image-processor.js";
import { sniffImageType } from "../../src/media/image-types.js";
import { variantSpecsFor, type VariantSpec } from "../../src/media/variant-specs.js";
import { photo } from "./fixtures.js";

const QUALITY = 82;
const resize = (s: VariantSpec): ResizeOptions =>
  s.fit === "cover"
    ? { width: s.width, height: s.height, fit: "cover", position: "centre" }
    : { width: s.width, height: s.height, fit: "inside", withoutEnlargement: true };

async function blurhash(p: Sharp): Promise<string> {
  const { data, info } = await p
    .resize(32, 32, { fit: "inside" })
    .flatten({ background: "#fff" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encode(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, 4, 3);
}

type Strategy = (input: Buffer, specs: VariantSpec[], purpose: FilePurpose) => Promise<unknown>;
const strategies: Record<string, Strategy> = {
  bareSeq: async (input, specs) => {
    for (const s of specs) await sharp(input).rotate().resize(resize(s)).webp({ quality: QUALITY }).toBuffer();
  },
  barePar: (input, specs) =>
    Promise.all(specs.map((s) => sharp(input).rotate().resize(resize(s)).webp({ quality: QUALITY }).toBuffer())),
  naive: async (input, specs) => {
    await sniffImageType(input.subarray(0, 4100));
    const options = { failOn: "error", limitInputPixels: 50_000_000, autoOrient: true } as const;
    await sharp(input, options).metadata();
    for (const s of specs) await sharp(input, options).resize(resize(s)).webp({ quality: QUALITY }).toBuffer();
    await blurhash(sharp(input, options));
  },
  clonePar: async (input, specs) => {
    await sniffImageType(input.subarray(0, 4100));
    const options = { failOn: "error", limitInputPixels: 50_000_000, autoOrient: true } as const;
    await sharp(input, { ...options, limitInputPixels: false }).metadata();
    const base = sharp(input, options);
    await Promise.all([
      ...specs.map((s) => base.clone().resize(resize(s)).webp({ quality: QUALITY }).toBuffer()),
      blurhash(base.clone()),
    ]);
  },
  process: (input, _specs, purpose) => processImage(input, { purpose }),
};

const rounds = Number(process.env.ROUNDS ?? 15);
const formats = (process.env.FORMATS ?? "jpeg").split(",") as ("jpeg" | "png")[];
const purposes: FilePurpose[] = ["avatar", "cover_photo", "post_attachment"];
console.log(`sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, libvips threads per image ${sharp.concurrency()}, ${rounds} rounds, median (min) ms`);
for (const format of formats) {
  const input = await photo(4000, 3000, format);
  console.log(`\n${format} 4000x3000, ${(input.length / 1e6).toFixed(1)} MB`);
  for (const purpose of purposes) {
    const specs = variantSpecsFor(purpose);
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(strategies).map((k) => [k, []]));
    for (const fn of Object.values(strategies)) await fn(input, specs, purpose); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(strategies)) {
        const started = performance.now();
        await fn(input, specs, purpose);
        times[name]!.push(performance.now() - started);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const cells = Object.entries(times).map(([name, xs]) => `${name} ${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)})`);
    const ratio = (a: string, b: string) => (median(times[a]!) / median(times[b]!)).toFixed(2);
    console.log(
      `  ${purpose.padEnd(16)} ${cells.join("  ")}  | process/bareSeq ${ratio("process", "bareSeq")}, process/barePar ${ratio("process", "barePar")}`,
    );
  }
}
