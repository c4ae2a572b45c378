// WatchFiles: what happens to an owner's files, as a stream. First a CURRENT
// event for each named file that exists (so a watcher that starts late misses
// nothing; a heartbeat at once when there is none), then every event of the
// change feed about those files (or all the owner's files when none are
// named), and a heartbeat while nothing else is sent, so proxies keep the
// stream open. Ends when the caller leaves or the server stops (the signal).
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { v7 as uuidv7 } from "uuid";
import type { WatchFilesResponse } from "../../gen/file/v1/file_service_pb.js";
import type { FileRepository } from "../domain/file-repository.js";
import { FileError } from "../domain/errors.js";
import type { ChangeFeed } from "../events/change-feed.js";
import { FileEventType, type FileEvent } from "../events/file-event.js";
import { toFileEvent } from "./file-message.js";

export interface WatchDeps {
  files: Pick<FileRepository, "findByIds">;
  feed: ChangeFeed;
  /** How long the stream may stay silent before a heartbeat; 15 s in production. */
  heartbeatMs: number;
  now: () => Date;
}

type Response = Omit<WatchFilesResponse, "$typeName" | "$unknown">;

/** Events past this many waiting for a slow watcher: it is dropped (it can start again from CURRENT). */
const MAX_QUEUED = 1_000;

export async function* watchFiles(
  deps: WatchDeps,
  ownerId: string,
  fileIds: readonly string[],
  signal: AbortSignal,
): AsyncGenerator<Response> {
  const wanted = fileIds.length === 0 ? undefined : new Set(fileIds);
  const queue: FileEvent[] = [];
  let wake: (() => void) | undefined;
  let overflowed = false;
  // Subscribed before the CURRENT reads: a change committed meanwhile is not lost (it may come twice; event ids tell).
  if (signal.aborted) return;
  const unsubscribe = deps.feed.subscribe((event) => {
    if (event.ownerId !== ownerId || (wanted !== undefined && !wanted.has(event.fileId))) return;
    if (queue.length >= MAX_QUEUED) overflowed = true;
    else queue.push(event);
    wake?.();
  });
  // On abort, stop listening at once: the generator may be parked at a yield
  // that nobody resumes (its finally would never run).
  const onAbort = () => {
    unsubscribe();
    wake?.();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    let sent = 0;
    if (fileIds.length > 0) {
      const now = deps.now();
      for (const record of await deps.files.findByIds(ownerId, fileIds)) {
        yield { kind: { case: "event", value: toFileEvent(FileEventType.CURRENT, record, uuidv7(), now) } };
        sent++;
      }
    }
    // Nothing to tell yet: a heartbeat now, so the caller (and any proxy) sees
    // the stream open at once rather than at the first change.
    if (sent === 0) yield { kind: { case: "heartbeat", value: timestampFromDate(deps.now()) } };
    while (!signal.aborted) {
      if (overflowed) throw new FileError("unavailable", `the watch fell more than ${MAX_QUEUED} events behind: watch again`);
      const event = queue.shift();
      if (event !== undefined) {
        yield { kind: { case: "event", value: event } };
        continue;
      }
      const beat = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), deps.heartbeatMs);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = undefined;
      if (beat && !signal.aborted) yield { kind: { case: "heartbeat", value: timestampFromDate(deps.now()) } };
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
  }
}
