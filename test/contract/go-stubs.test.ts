// README's buf.gen.yaml for Go callers, kept honest: its module= option must
// be a prefix of the proto's go_package, and buf must accept the file as it is
// and generate for file/v1 only, into the folders the README names. The
// registry's remote Go plugins cannot be reached from here, so a stand-in that
// names files as protoc-gen-go does under module= takes their place.
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { file_file_v1_file_service } from "../../gen/file/v1/file_service_pb.js";
import { readmeBlock } from "../support/readme.js";
import { REPO_ROOT } from "../support/service-process.js";

const run = promisify(execFile);
const buf = join(REPO_ROOT, "node_modules/.bin/buf");
const standIn = join(REPO_ROOT, "test/support/go-plugin-stand-in.ts");

/** What each remote Go plugin the README may name adds to a proto's base name. */
const SUFFIX: Record<string, string> = {
  "buf.build/protocolbuffers/go": ".pb.go",
  "buf.build/grpc/go": "_grpc.pb.go",
};

interface PluginConfig {
  remote?: string;
  local?: string[];
  out: string;
  opt?: string | string[];
}
interface GenConfig {
  version: string;
  inputs: { directory: string; paths?: string[] }[];
  plugins: PluginConfig[];
}

const config = () => parse(readmeBlock("go-buf-gen", "yaml")) as GenConfig;
const optsOf = (p: PluginConfig) => (Array.isArray(p.opt) ? p.opt : p.opt === undefined ? [] : [p.opt]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-go-stubs-"));
  // The caller's checkout: a copy of proto/ and nothing else of this repository.
  await cp(join(REPO_ROOT, "proto"), join(dir, "proto"), { recursive: true });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs buf generate in the caller's folder with `gen`, remote Go plugins replaced by the stand-in. */
async function generate(gen: GenConfig): Promise<string[]> {
  const plugins = gen.plugins.map((p) => ({
    local: [process.execPath, "--import", import.meta.resolve("tsx"), standIn, SUFFIX[p.remote!]!],
    out: p.out,
    opt: p.opt,
  }));
  await rm(join(dir, "gen"), { recursive: true, force: true });
  await writeFile(join(dir, "buf.gen.yaml"), stringify({ ...gen, plugins }));
  await run(buf, ["generate"], { cwd: dir });
  return (await readdir(join(dir, "gen"), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("README: buf.gen.yaml for Go callers", () => {
  it("uses remote Go plugins whose module= is the prefix of the proto's go_package", () => {
    const goPackage = file_file_v1_file_service.proto.options?.goPackage;
    expect(goPackage).toMatch(/^github\.com\/.+;\w+$/);
    const importPath = goPackage!.split(";")[0]!;
    const gen = config();
    expect(gen.version).toBe("v2");
    expect(gen.plugins.map((p) => p.remote)).toEqual(["buf.build/protocolbuffers/go", "buf.build/grpc/go"]);
    for (const plugin of gen.plugins) {
      const module = optsOf(plugin).find((o) => o.startsWith("module="))?.slice("module=".length);
      expect(module, plugin.remote).toBeDefined();
      expect(importPath.startsWith(`${module}/`), `${importPath} under ${module}`).toBe(true);
    }
  });

  it("generates file/v1 only, into gen/go/file/v1 as the README says", async () => {
    expect(await generate(config())).toEqual(["gen/go/file/v1/file_service.pb.go", "gen/go/file/v1/file_service_grpc.pb.go"]);
  });

  it("needs its paths filter: health and reflection have go_packages outside the module", async () => {
    const gen = config();
    const unfiltered = { ...gen, inputs: gen.inputs.map(({ directory }) => ({ directory })) };
    await expect(generate(unfiltered)).rejects.toThrow(/grpc\/health\/v1\/health\.proto.*does not have the module prefix/);
  });
});
