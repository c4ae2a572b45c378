// What the malware scan of a file's bytes concludes. A scanner that cannot
// answer now (down, slow) throws DependencyUnavailableError("malware
// scanner"): the scan is retried and the file waits, never served meanwhile
// (fail closed). "error" is a verdict for good about this file.
import type { Readable } from "node:stream";

export type ScanVerdict =
  | { verdict: "clean" }
  | { verdict: "infected"; signature: string }
  /** The scanner can never judge this file (e.g. larger than it takes): not served. */
  | { verdict: "error"; reason: string };

export interface Scanner {
  /** Scans `sizeBytes` bytes from `body`. */
  scan(body: Readable, sizeBytes: number, signal?: AbortSignal): Promise<ScanVerdict>;
  /** Resolves when the scanner answers (health detail, not readiness). */
  ping(): Promise<void>;
}
