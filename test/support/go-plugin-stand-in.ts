// Stands in for a Go code generator (protoc-gen-go, protoc-gen-go-grpc) where
// the registry's remote plugins cannot be reached: it reads the same
// CodeGeneratorRequest and names its output files as they do under `module=`
// (go_package's import path, less the module prefix, + the proto's base name +
// the suffix given as argument), refusing a go_package outside the module as
// they do. The files hold only what the request said.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, CodeGeneratorResponseSchema } from "@bufbuild/protobuf/wkt";

const suffix = process.argv[2] ?? ".pb.go";
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const request = fromBinary(CodeGeneratorRequestSchema, Buffer.concat(chunks));
const params = new Map(request.parameter.split(",").filter(Boolean).map((p) => p.split("=", 2) as [string, string]));
const module = params.get("module");

const file = request.fileToGenerate.map((name) => {
  const proto = request.protoFile.find((f) => f.name === name)!;
  const goPackage = proto.options?.goPackage;
  if (!goPackage) return { error: `unable to determine Go import path for "${name}"` };
  const importPath = goPackage.split(";")[0]!;
  const base = name.replace(/^.*\//, "").replace(/\.proto$/, "");
  const path = `${importPath}/${base}${suffix}`;
  if (module !== undefined && !path.startsWith(`${module}/`)) {
    return { error: `${name}: generated file "${path}" does not have the module prefix "${module}"` };
  }
  return { name: module === undefined ? path : path.slice(module.length + 1), content: `// ${name}: go_package ${goPackage}\n` };
});
const failed = file.find((f) => "error" in f);
const response = failed && "error" in failed
  ? create(CodeGeneratorResponseSchema, { error: failed.error })
  : create(CodeGeneratorResponseSchema, { file: file as { name: string; content: string }[], supportedFeatures: 1n });
process.stdout.write(toBinary(CodeGeneratorResponseSchema, response));
