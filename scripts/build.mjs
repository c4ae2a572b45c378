// `npm run build`: the service as JavaScript in dist/, bundled by esbuild so
// `node dist/main.mjs` (npm run start:prod) runs without tsx or TypeScript.
// Bundled, not only compiled: Node's loader pays for every ES module it loads,
// and a few thousand (the AWS SDK, drizzle, OpenTelemetry...) took 1.4 s and
// left ~100 MB of garbage at start; the bundle starts in about half the time
// (bench/scenarios/footprint.ts). Lazy imports stay lazy (split chunks).
// Type checking is `npm run typecheck`'s job, not the bundler's.
// Plain JS, like ensure-deps.mjs: it runs before anything is compiled.
import { rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const out = process.argv[2] ?? "dist";
rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: {
    main: "src/main.ts", // npm run start:prod
    migrate: "src/db/migrate.ts", // the image's migrate step
    certs: "scripts/certs.ts", // the image's certs step
    token: "scripts/token.ts",
  },
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  sourcemap: true,
  // Native addons (and packages that locate their own files at run time) stay
  // in node_modules, installed with the production dependencies.
  external: ["sharp", "@libsql/client", "libsql"],
  // Some bundled CommonJS calls require(): give ESM one.
  banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  logLevel: "warning",
  metafile: true,
});
// What went into the bundle, for the check that no dev dependency did (test/build.test.ts).
writeFileSync(`${out}/meta.json`, JSON.stringify(result.metafile));
