// Markdown building blocks: anchors, escaping, tables and proto comments as
// prose. Nothing here knows about the document's layout.
import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/** An anchor named by the element's full name (`file.v1.GetFileRequest`), as protoc-gen-doc names them. */
export const anchor = (name: string) => `<a name="${name}"></a>`;

export const link = (text: string, target: string) => `[${text}](#${target})`;

/** The element's leading and trailing comments, one paragraph per blank-line-separated block. */
export function commentParagraphs(desc: Exclude<AnyDesc, DescFile>): string[] {
  const { leading, trailing } = getComments(desc);
  return [leading, trailing]
    .filter((text): text is string => text !== undefined)
    .flatMap((text) => text.split(/\n\s*\n/))
    .map((block) =>
      block
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "")
        .join("\n"),
    )
    .filter((block) => block !== "");
}

/** A comment as Markdown prose, `<` escaped outside code spans so `file.<type>` is not read as HTML. */
export function commentProse(desc: Exclude<AnyDesc, DescFile>): string {
  return commentParagraphs(desc).map(escapeText).join("\n\n");
}

/** A comment for one table cell: lines joined, paragraphs split by <br>, pipes escaped. */
export function commentCell(desc: Exclude<AnyDesc, DescFile>): string {
  return commentParagraphs(desc)
    .map((p) => escapeText(p.replaceAll("\n", " ")).replaceAll("|", "\\|"))
    .join("<br><br>");
}

function escapeText(text: string): string {
  return text
    .split("`")
    .map((part, i) => (i % 2 === 0 ? part.replaceAll("<", "&lt;") : part))
    .join("`");
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export const fenced = (language: string, body: string) => "```" + language + "\n" + body + "\n```";

/** A word for the shell, in single quotes. */
export const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** A word for the shell in double quotes, so `$VAR` in it still expands. */
export const shellQuoteExpanding = (text: string) => `"${text.replace(/["\\`]/g, (c) => `\\${c}`)}"`;
