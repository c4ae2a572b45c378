// What a person reads: errors as "code: message" (never a stack), sizes, tables.
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { DiscoveryError } from "@file-service/client";

/** An error the CLI itself reports (bad input, nothing to upload): printed as is. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One line on stderr for any error, then exit 1. */
export function failWith(error: unknown): never {
  process.stderr.write(`${describeError(error)}\n`);
  process.exit(1);
}

export function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unavailable && refused(error)) {
      return `unavailable: cannot reach file-service (${error.rawMessage}). Is it running? Start it with \`npm start\` (or \`npx file-service serve\`), or point --url at it.`;
    }
    return `${codeToString(error.code)}: ${error.rawMessage}`;
  }
  if (error instanceof DiscoveryError || error instanceof UsageError) return `file-service: ${error.message}`;
  const errno = error as NodeJS.ErrnoException;
  if (errno.code === "ENOENT" && errno.path !== undefined) return `file-service: no such file or directory: ${errno.path}`;
  return `file-service: ${error instanceof Error ? error.message : String(error)}`;
}

function refused(error: ConnectError): boolean {
  for (let e: unknown = error; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || (e instanceof Error && e.message.includes("ECONNREFUSED"))) return true;
  }
  return false;
}

/** A flag's value as a positive integer, or a UsageError naming the flag. */
export function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not ${value}`);
  return n;
}

export function formatBytes(bytes: number | bigint): string {
  const n = Number(bytes);
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Left-aligned columns under upper-case headers, two spaces apart. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n");
}

/** "FILE_STATUS_UPLOADED" → "uploaded": enum names as a person reads them. */
export function enumWord(names: Record<number, string>, value: number): string {
  return (names[value] ?? String(value)).toLowerCase().replaceAll("_", "-");
}
