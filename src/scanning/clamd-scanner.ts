// The Scanner on ClamAV's daemon: the bytes are streamed to clamd with INSTREAM
// over TCP through clamscan (the maintained Node client: its clamdscan mode
// speaks INSTREAM from a stream, no temp file), answers read as verdicts.
//
// clamd refuses a stream past its StreamMaxLength by closing the connection,
// which looks like an outage from here: so a file larger than the limit we
// were told (CLAMD_STREAM_MAX_BYTES, kept equal to clamd's) gets the error
// verdict before a byte is sent, and never passes as clean.
import type { Readable } from "node:stream";
import NodeClam from "clamscan";
import { DependencyUnavailableError } from "../domain/errors.js";
import type { Scanner, ScanVerdict } from "./scanner.js";

export interface ClamdOptions {
  /** tcp://host:port */
  url: string;
  /** clamd's StreamMaxLength: larger files get the error verdict. */
  streamMaxBytes: number;
  /** Per scan and per ping; default 30000. */
  timeoutMs?: number;
}

export function createClamdScanner(options: ClamdOptions): Scanner {
  const { hostname, port } = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 30_000;
  // init() is lazy and remembered: a clamd that is down at start must not stop the service.
  let client: Promise<NodeClam> | undefined;
  const clamd = () =>
    (client ??= new NodeClam()
      .init({
        removeInfected: false,
        debugMode: false,
        clamscan: { active: false },
        clamdscan: { host: hostname, port: Number(port), timeout: timeoutMs, localFallback: false, active: true, bypassTest: true },
        preference: "clamdscan",
      })
      .catch((error: unknown) => {
        client = undefined;
        throw error;
      }));
  const unavailable = (cause: unknown) => new DependencyUnavailableError("malware scanner", cause);

  return {
    async scan(body: Readable, sizeBytes: number, signal?: AbortSignal): Promise<ScanVerdict> {
      if (sizeBytes > options.streamMaxBytes) {
        body.destroy();
        return { verdict: "error", reason: `the file (${sizeBytes} bytes) is larger than the scanner takes (${options.streamMaxBytes} bytes)` };
      }
      let result;
      try {
        const scanning = (await clamd()).scanStream(body);
        result = await withDeadline(scanning, timeoutMs, signal);
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        // clamd's own words for a stream over its limit (our size check above normally prevents it).
        if (/size limit exceeded/i.test(text)) return { verdict: "error", reason: "the file is larger than the scanner takes" };
        throw unavailable(error);
      }
      if (result.isInfected === true) return { verdict: "infected", signature: result.viruses[0] ?? "unknown" };
      if (result.isInfected === false) return { verdict: "clean" };
      // clamd answered neither OK nor FOUND (e.g. it timed out reading): ask again later.
      throw unavailable(new Error("the scanner gave no verdict"));
    },

    async ping(): Promise<void> {
      try {
        await withDeadline((await clamd()).ping().then(() => undefined), 5_000);
      } catch (error) {
        throw unavailable(error);
      }
    },
  };
}

function withDeadline<T>(work: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    const onAbort = () => reject(signal?.reason ?? new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    });
  });
}
