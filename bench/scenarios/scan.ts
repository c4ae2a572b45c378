// Scenario 9: what a malware scan costs beside what processing costs, per file:
// a 10 MiB image (a noise PNG, barely compressible, as photos are) scanned by
// clamd through INSTREAM (our scanner, over loopback TCP), against making its
// variants (processImage, the post-attachment purpose). clamd runs with the
// test's tiny signature database (no mirror is reachable here): its per-byte
// scanning is what is measured; a full signature set adds lookup cost that the
// notes estimate. Alternated, milliseconds per file, lower is better.
import { Readable } from "node:stream";
import { createClamdScanner } from "../../src/scanning/clamd-scanner.js";
import { processImage } from "../../src/media/image-processor.js";
import { startClamd } from "../../test/support/clamd.js";
import { noisePng } from "../../test/support/images.js";
import { alternate, report, SMOKE, summarize } from "../lib/measure.js";

const BYTES = SMOKE ? 256 * 1024 : 10 * 1024 * 1024;
const clamd = await startClamd({ streamMaxBytes: 32 * 1024 * 1024 });
try {
  const image = await noisePng(BYTES);
  const scanner = createClamdScanner({ url: clamd.url, streamMaxBytes: clamd.streamMaxBytes });
  const SCAN = "clamd INSTREAM scan";
  const PROCESS = "variants + BlurHash (processImage)";
  const time = async (work: () => Promise<unknown>) => {
    const start = performance.now();
    await work();
    return performance.now() - start;
  };
  const samples = await alternate([
    {
      name: SCAN,
      run: () =>
        time(async () => {
          const verdict = await scanner.scan(Readable.from([image]), image.length);
          if (verdict.verdict !== "clean") throw new Error(`unexpected verdict ${verdict.verdict}`);
        }),
    },
    { name: PROCESS, run: () => time(() => processImage(image, { purpose: "post_attachment" })) },
  ]);
  await report(
    summarize(
      { scenario: "scan", unit: `ms per ${(image.length / 1048576).toFixed(1)} MiB image`, higherIsBetter: false, baseline: PROCESS, goal: "report (scan beside processing)" },
      samples,
    ),
  );
} finally {
  await clamd.dispose();
}
