// What connect's ES2017 build costs per call: a unary call runs about ten
// async-generator transforms, each passing one message. The same pipeline
// (a one-item source through ten pass-through generators, drained), alternated
// in one process: native async generators declared once; native ones created
// as a closure per call (connect's transforms are factories, so a native build
// of connect would look like this); and lowered as connect's dist has them
// (es2017-async-generators.ts).
//
//   npx tsx bench/peers/async-generator-cost.ts        (BENCH_ROUNDS, default 5)
import { alternate, median, summarize, type Variant } from "../lib/measure.js";
import * as lowered from "./es2017-async-generators.js";

const DEPTH = 10;
const SAMPLE_MS = 1000;

async function* source(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}
async function* pass(it: AsyncIterable<number>): AsyncGenerator<number> {
  for await (const x of it) yield x;
}

// A new generator function per call, as connect's transform factories make them.
function passClosure(it: AsyncIterable<number>): AsyncIterable<number> {
  return (async function* () {
    for await (const x of it) yield x;
  })();
}

type Impl = { source: (n: number) => AsyncIterable<number>; pass: (it: AsyncIterable<number>) => AsyncIterable<number> };

async function drain(impl: Impl): Promise<number> {
  let it = impl.source(1);
  for (let d = 0; d < DEPTH; d++) it = impl.pass(it);
  let sum = 0;
  for await (const x of it) sum += x;
  return sum;
}

/** µs per pipeline over one sample. */
function variant(name: string, impl: Impl): Variant {
  return {
    name,
    async run() {
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < SAMPLE_MS) {
        for (let i = 0; i < 100; i++) await drain(impl);
        n += 100;
      }
      return ((performance.now() - start) * 1000) / n;
    },
  };
}

const variants = [
  variant("native async generators", { source, pass }),
  variant("native, a new generator function per call", { source, pass: passClosure }),
  variant("tslib-lowered (connect's dist)", lowered as Impl),
];
for (const v of variants) await v.run(); // warm-up
const result = summarize({ scenario: "async-generator-cost", unit: "µs per pipeline", higherIsBetter: false, baseline: variants[0]!.name }, await alternate(variants));
process.stdout.write(`${DEPTH} pass-through generators, one item, drained; lower is better\n| variant | median µs | min | max | time vs native |\n| --- | --- | --- | --- | --- |\n`);
for (const r of result.rows) {
  process.stdout.write(`| ${r.variant} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} | ${(r.median / median(result.rows[0]!.samples)).toFixed(2)}× |\n`);
}
