// The plugin: a CodeGeneratorRequest in, one Markdown file out. Options (buf.gen.yaml `opt`):
//   file=NAME        the output file (default api.md)
//   base_url=URL     where the curl examples send their requests (default http://localhost:8080)
//   header=H: V      a header every curl example sends (repeatable), e.g. `Authorization: Bearer $TOKEN`
//   example=F:TEXT   the example string of every field named F (repeatable), e.g. `owner_id:demo`
import { create, createFileRegistry, protoInt64 } from "@bufbuild/protobuf";
import {
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
  type CodeGeneratorRequest,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "@bufbuild/protoplugin";
import { renderDocument, type DocumentOptions } from "./document.js";

interface Options extends DocumentOptions {
  file: string;
  headers: string[];
  exampleStrings: Record<string, string>;
}

export const protocGenApiDocs: Plugin = {
  name: "protoc-gen-api-docs",
  version: "v1",
  run(request: CodeGeneratorRequest) {
    const options = parseOptions(request.parameter);
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: request.protoFile }));
    const files = request.fileToGenerate.map((name) => {
      const file = registry.getFile(name);
      if (file === undefined) throw new Error(`the request has no descriptor for ${name}`);
      return file;
    });
    return create(CodeGeneratorResponseSchema, {
      // proto3 and proto2; editions would need their feature resolution here too.
      supportedFeatures: protoInt64.parse(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
      file: [{ name: options.file, content: renderDocument(files, options) }],
    });
  },
};

function parseOptions(parameter: string): Options {
  const options: Options = { file: "api.md", baseUrl: "http://localhost:8080", headers: [], exampleStrings: {} };
  for (const pair of parameter.split(",").filter((p) => p !== "")) {
    const at = pair.indexOf("=");
    const key = at < 0 ? pair : pair.slice(0, at);
    const value = at < 0 ? "" : pair.slice(at + 1);
    if (key === "file" && value) options.file = value;
    else if (key === "base_url" && value) options.baseUrl = value.replace(/\/+$/, "");
    else if (key === "header" && value.includes(":")) options.headers.push(value);
    else if (key === "example" && value.includes(":")) {
      const colon = value.indexOf(":");
      options.exampleStrings[value.slice(0, colon)] = value.slice(colon + 1);
    } else {
      throw new Error(`unknown or empty option "${pair}": use file=NAME, base_url=URL, header=NAME: VALUE or example=FIELD:TEXT`);
    }
  }
  return options;
}
