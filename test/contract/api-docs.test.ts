// The API reference (docs/api/api.md), generated as CI generates it: `buf
// generate` into a temp dir. It must be what is committed, name every element
// of the generated descriptors in gen/, carry every comment of the proto
// source, and its example requests must be real: each parses as its request
// type, and the printed curl commands answer from the running service.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileRegistry, fromBinary, fromJson, toJson, type DescFile, type JsonObject } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { getComments } from "@bufbuild/protoplugin";
import { REPO_ROOT } from "../support/service-process.js";
import { startTestService, type TestService } from "../support/service.js";
import { allEnums, allMessages } from "../../scripts/protoc-gen-api-docs/document.js";
import { leftOut } from "../../scripts/protoc-gen-api-docs/example-json.js";

const run = promisify(execFile);
const buf = join(REPO_ROOT, "node_modules/.bin/buf");

let out: string;
let doc: string;
/** Each `<a name="...">` anchor's section, up to the next anchor. */
let sections: Map<string, string>;
/** The files of gen/, from their generated descriptors (`file_*` exports). */
let generated: DescFile[];

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "fs-api-docs-"));
  await run(buf, ["generate", "--template", "buf.gen.yaml", "-o", out], { cwd: REPO_ROOT });
  doc = await readFile(join(out, "docs/api/api.md"), "utf8");
  sections = new Map(
    [...doc.matchAll(/<a name="([^"]+)"><\/a>\n([\s\S]*?)(?=<a name="|$)/g)].map((m) => [m[1]!, m[2]!]),
  );
  generated = await generatedFiles();
}, 60_000);

afterAll(() => rm(out, { recursive: true, force: true }));

async function generatedFiles(): Promise<DescFile[]> {
  const gen = join(REPO_ROOT, "gen");
  const paths = (await readdir(gen, { recursive: true })).filter((p) => p.endsWith("_pb.ts"));
  const files: DescFile[] = [];
  for (const path of paths) {
    const module = (await import(join(gen, path))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) if (name.startsWith("file_")) files.push(value as DescFile);
  }
  return files;
}

function section(name: string): string {
  const text = sections.get(name);
  if (text === undefined) throw new Error(`docs/api/api.md has no section for ${name}`);
  return text;
}

const methodsOf = (file: DescFile) => file.services.flatMap((s) => s.methods);

describe("docs/api/api.md", () => {
  it("is what buf generates from proto/ (committed and fresh)", async () => {
    expect(await readFile(join(REPO_ROOT, "docs/api/api.md"), "utf8")).toBe(doc);
  });

  it("has a section for every service, RPC, message, field, enum and enum value in gen/", () => {
    expect(generated.map((f) => f.proto.name).sort()).toContain("file/v1/file_service.proto");
    let fields = 0;
    for (const file of generated) {
      for (const service of file.services) {
        expect(doc).toContain(`](#${service.typeName})`); // in the contents
        section(service.typeName);
        for (const method of service.methods) {
          const text = section(`${service.typeName}.${method.name}`);
          expect(text).toContain(`| Request | [${method.input.name}](#${method.input.typeName}) |`);
          expect(text).toContain(`| Response | [${method.output.name}](#${method.output.typeName}) |`);
          expect(text).toContain(`\`/${service.typeName}/${method.name}\``);
        }
      }
      for (const message of allMessages(file)) {
        const text = section(message.typeName);
        for (const field of message.fields) {
          expect(text).toContain(`| \`${field.name}\` | \`${field.jsonName}\` |`);
          fields++;
        }
      }
      for (const desc of allEnums(file)) {
        const text = section(desc.typeName);
        for (const value of desc.values) expect(text).toContain(`| \`${value.name}\` | ${value.number} |`);
      }
    }
    expect(fields).toBeGreaterThan(100);
  });

  it("says the streaming kind of each RPC", () => {
    const words = { unary: "unary", server_streaming: "server streaming", client_streaming: "client streaming", bidi_streaming: "bidirectional streaming" };
    for (const method of generated.flatMap(methodsOf)) {
      expect(section(`${method.parent.typeName}.${method.name}`)).toMatch(new RegExp(`\\| Streaming \\| ${words[method.methodKind]}`));
    }
  });

  it("carries every comment of the proto source, leading and trailing, with its element", async () => {
    // gen/ holds descriptors without source info: the comments come from buf's own image of proto/.
    const image = join(out, "image.binpb");
    await run(buf, ["build", "-o", image], { cwd: REPO_ROOT });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(image)));
    const prose = (text: string) =>
      text.replaceAll("<br><br>", " ").replaceAll("&lt;", "<").replaceAll("\\|", "|").replace(/\s+/g, " ").trim();
    let checked = 0;
    for (const { proto } of generated) {
      const file = registry.getFile(proto.name)!;
      const owned: (readonly [Parameters<typeof getComments>[0], string])[] = [
        ...file.services.map((s) => [s, s.typeName] as const),
        ...methodsOf(file).map((m) => [m, `${m.parent.typeName}.${m.name}`] as const),
        ...allMessages(file).flatMap((m) => [[m, m.typeName] as const, ...m.fields.map((f) => [f, m.typeName] as const)]),
        ...allEnums(file).flatMap((e) => [[e, e.typeName] as const, ...e.values.map((v) => [v, e.typeName] as const)]),
      ];
      for (const [desc, where] of owned) {
        const { leading, trailing } = getComments(desc);
        for (const comment of [leading, trailing]) {
          if (comment === undefined || comment.trim() === "") continue;
          expect(prose(section(where)), `${desc.toString()}`).toContain(prose(comment));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  it("gives each RPC an example request that parses as its request type, every field set", () => {
    for (const method of generated.flatMap(methodsOf)) {
      const json = exampleJson(method.parent.typeName, method.name);
      const message = fromJson(method.input, json);
      // Nothing dropped or coerced: the example is already the canonical JSON of what it parses to.
      expect(toJson(method.input, message)).toEqual(json);
      for (const field of method.input.fields) {
        const shown = (field.oneof === undefined || field.oneof.fields[0] === field) && !leftOut(field);
        if (shown) expect(json, `${method.name} ${field.name}`).toHaveProperty(field.jsonName);
      }
    }
  });
});

/** The JSON request of an RPC's example: the curl's `-d '...'` for unary ones, the json block for streams. */
function exampleJson(service: string, method: string): JsonObject {
  const text = section(`${service}.${method}`);
  const curl = /```sh\n([\s\S]*?)\n```/.exec(text)?.[1];
  const body = curl !== undefined ? /-d '((?:[^']|'\\'')*)'$/.exec(curl)?.[1]?.replaceAll(`'\\''`, "'") : /```json\n([\s\S]*?)\n```/.exec(text)?.[1];
  if (body === undefined) throw new Error(`no example request for ${method}`);
  return JSON.parse(body) as JsonObject;
}

describe("the curl examples, run as printed against the service", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service?.stop());

  /** Runs the RPC's printed command, pointed at the test service, as the example's owner. */
  async function runExample(method: string): Promise<{ code?: string; message?: string } & JsonObject> {
    const curl = /```sh\n([\s\S]*?)\n```/.exec(section(`file.v1.FileService.${method}`))![1]!;
    const owner = exampleJson("file.v1.FileService", method).ownerId as string;
    const env = { ...process.env, TOKEN: await service.userToken(owner) };
    const { stdout } = await run("sh", ["-c", curl.replace("http://localhost:8080", service.httpUrl)], { env });
    return JSON.parse(stdout) as { code?: string } & JsonObject;
  }

  it("GetFile answers not_found for the example's unknown id: the request itself is well-formed", async () => {
    const answer = await runExample("GetFile");
    expect(answer.code).toBe("not_found");
  });

  it("GenerateUploadURLs accepts the example as it is: one presigned upload", async () => {
    const answer = await runExample("GenerateUploadURLs");
    expect(answer.code, JSON.stringify(answer)).toBeUndefined();
    expect(answer.uploads).toHaveLength(1);
  });

  it.each(["BatchGetFiles", "ConfirmUpload", "ListFiles", "DeleteFile", "BatchDeleteFiles", "ProcessFile"])(
    "%s answers without invalid_argument",
    async (method) => {
      const answer = await runExample(method);
      expect(answer.code, JSON.stringify(answer)).not.toBe("invalid_argument");
      expect(answer.code, JSON.stringify(answer)).not.toBe("unauthenticated");
    },
  );
});
