// Making the variants of each purpose from a 12-megapixel JPEG (4000x3000,
// photo-like content), in ms per image: our processImage (which also sniffs the
// type, checks the header's pixel count and computes a BlurHash) against the
// bare sharp pipeline doing the same resizes, `sharp(input).rotate().resize().webp()`
// per variant, one after another. Goal: processImage within 1.2x the bare time.
// In process, no network. Also shown: the bare pipelines all at once
// (Promise.all), which keeps both cores busy as processImage does.
//
// (Replaces test/media/benchmark.ts.)
import sharp, { type ResizeOptions } from "sharp";
import type { FilePurpose } from "../../src/domain/file.js";
import { DEFAULT_WEBP_QUALITY, processImage } from "../../src/media/image-processor.js";
import { variantSpecsFor, type VariantSpec } from "../../src/media/variant-specs.js";
import { photo } from "../../test/support/images.js";
import { alternate, median, report, SMOKE, summarize } from "../lib/measure.js";

const [WIDTH, HEIGHT] = SMOKE ? [400, 300] : [4000, 3000];
const PURPOSES: FilePurpose[] = ["avatar", "cover_photo", "post_attachment"];
const BARE = "bare sharp, variants one after another";
const BARE_PARALLEL = "bare sharp, variants at once";
const PROCESS = "processImage (+ sniff, pixel check, BlurHash)";

const resize = (s: VariantSpec): ResizeOptions =>
  s.fit === "cover"
    ? { width: s.width, height: s.height, fit: "cover", position: "centre" }
    : { width: s.width, height: s.height, fit: "inside", withoutEnlargement: true };
const bareVariant = (input: Buffer, s: VariantSpec) =>
  sharp(input).rotate().resize(resize(s)).webp({ quality: DEFAULT_WEBP_QUALITY }).toBuffer();

// CPU time of the process (libvips threads included) per run, by variant: on a
// shared machine it moves less than wall time does.
const cpuMs = new Map<string, number[]>();

async function timed(name: string, work: () => Promise<unknown>): Promise<number> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await work();
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  cpuMs.set(name, [...(cpuMs.get(name) ?? []), (cpu.user + cpu.system) / 1000]);
  return elapsed;
}

const input = await photo(WIDTH, HEIGHT, "jpeg");
const threads = sharp.concurrency();
for (const purpose of PURPOSES) {
  const specs = variantSpecsFor(purpose);
  const variants = [
    {
      name: BARE,
      run: () =>
        timed(BARE, async () => {
          for (const s of specs) await bareVariant(input, s);
        }),
    },
    { name: BARE_PARALLEL, run: () => timed(BARE_PARALLEL, () => Promise.all(specs.map((s) => bareVariant(input, s)))) },
    {
      name: PROCESS,
      run: () =>
        timed(PROCESS, async () => {
          const processed = await processImage(input, { purpose });
          if (processed.variants.length !== specs.length) throw new Error("missing variants");
        }),
    },
  ];
  for (const v of variants) await v.run(); // warm-up
  cpuMs.clear();
  const samples = await alternate(variants);
  const result = summarize(
    {
      scenario: `variants-${purpose}`,
      unit: "ms per image",
      higherIsBetter: false,
      baseline: BARE,
      goal: "processImage <= 1.2x the bare time (ratio >= 0.83x)",
      extra: {
        input: `${WIDTH}x${HEIGHT} JPEG, ${(input.length / 1e6).toFixed(1)} MB`,
        variants: specs.map((s) => `${s.name} ${s.width}x${s.height} ${s.fit}`),
        "processImage time / bare time": median(samples.get(PROCESS)!) / median(samples.get(BARE)!),
        "processImage time / bare parallel time": median(samples.get(PROCESS)!) / median(samples.get(BARE_PARALLEL)!),
        "CPU ms per image (median), by variant": Object.fromEntries([...cpuMs].map(([name, xs]) => [name, Math.round(median(xs))])),
        "processImage CPU / bare CPU": median(cpuMs.get(PROCESS)!) / median(cpuMs.get(BARE)!),
        sharp: `${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${threads} libvips threads per image`,
      },
    },
    samples,
  );
  await report(result);
}
