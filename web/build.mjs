// Builds the web app into web/dist with esbuild: index.html plus one script and
// one stylesheet under assets/. `npm start` runs this when dist is missing or stale.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");

export async function buildWeb() {
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "assets"), { recursive: true });
  await build({
    entryPoints: { app: join(here, "src/main.ts") },
    outdir: join(out, "assets"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  await copyFile(join(here, "index.html"), join(out, "index.html"));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWeb();
