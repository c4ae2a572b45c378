// Entry point: buf runs this as a local plugin (see buf.gen.yaml) with
// `node --import tsx`, a CodeGeneratorRequest on stdin.
import { runNodeJs } from "@bufbuild/protoplugin";
import { protocGenApiDocs } from "./plugin.js";

runNodeJs(protocGenApiDocs);
