// The README's commands, as printed: tests run them so the README cannot drift
// from what works.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./service-process.js";

const readme = () => readFileSync(join(REPO_ROOT, "README.md"), "utf8");

/** The bodies of the fenced blocks of `language` between `<!-- readme:NAME:start -->` and `:end -->`. */
export function readmeBlocks(name: string, language = "sh"): string[] {
  const text = readme();
  const start = text.indexOf(`<!-- readme:${name}:start -->`);
  const end = text.indexOf(`<!-- readme:${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`README.md has no readme:${name} section`);
  return fencedBlocks(text.slice(start, end), language);
}

/** The fenced block of `language` right after `<!-- readme:NAME -->`. */
export function readmeBlock(name: string, language: string): string {
  const text = readme();
  const at = text.indexOf(`<!-- readme:${name} -->`);
  if (at < 0) throw new Error(`README.md has no readme:${name} marker`);
  const block = fencedBlocks(text.slice(at), language)[0];
  if (block === undefined) throw new Error(`no ${language} block after readme:${name}`);
  return block;
}

function fencedBlocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}
