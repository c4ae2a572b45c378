// WatchFiles as a plain stream of events (heartbeats dropped), and the wait a
// caller usually wants from it: until each file's processing has ended.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { FileStatus, ProcessingStatus, type File, type FileEvent, type FileService } from "./contract.js";

export interface WatchOptions {
  signal?: AbortSignal;
}

/** Every event for the owner's files (or only `fileIds`, up to 100): first the current state, then changes. Ends when `signal` aborts. */
export async function* watchFiles(rpc: Client<typeof FileService>, ownerId: string, fileIds: readonly string[] = [], options: WatchOptions = {}): AsyncGenerator<FileEvent> {
  try {
    for await (const response of rpc.watchFiles({ ownerId, fileIds: [...fileIds] }, options.signal ? { signal: options.signal } : {})) {
      if (response.kind.case === "event") yield response.kind.value;
    }
  } catch (e) {
    // The caller stopped watching: an end, not an error.
    if (options.signal?.aborted && ConnectError.from(e).code === Code.Canceled) return;
    throw e;
  }
}

const SETTLED = new Set([ProcessingStatus.COMPLETED, ProcessingStatus.FAILED, ProcessingStatus.CANCELLED]);

/** Whether nothing more will happen to this file without someone asking. */
export function processingSettled(file: File): boolean {
  return file.status !== FileStatus.UPLOADED || SETTLED.has(file.processingStatus);
}

/**
 * The files as they are once each one's processing has ended (variants made,
 * or failed), or as last seen when `timeoutMs` (default 60 s) runs out. The
 * watch starts with each file's current state, so none is missed.
 */
export async function waitForProcessing(
  rpc: Client<typeof FileService>,
  ownerId: string,
  fileIds: readonly string[],
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Map<string, File>> {
  const latest = new Map<string, File>();
  if (fileIds.length === 0) return latest;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), options.timeoutMs ?? 60_000);
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort);
  try {
    for await (const event of watchFiles(rpc, ownerId, fileIds, { signal: stop.signal })) {
      if (event.file !== undefined) latest.set(event.fileId, event.file);
      if (fileIds.every((id) => latest.has(id) && processingSettled(latest.get(id)!))) break;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    stop.abort();
  }
  return latest;
}
