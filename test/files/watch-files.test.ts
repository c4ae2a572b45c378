// WatchFiles in process: the current state of the named files first, then the
// changes the feed brings (only the watcher's own files), heartbeats while
// nothing happens, and a clean end when the watcher leaves.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { FileEventType, FilePurpose, type WatchFilesResponse } from "../../gen/file/v1/file_service_pb.js";
import { createChangeFeed, type ChangeFeed } from "../../src/events/change-feed.js";
import { toFileEvent } from "../../src/files/file-message.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";

let h: InProcess;
let feed: ChangeFeed;
beforeEach(async () => {
  feed = createChangeFeed();
  h = await startInProcess({ deps: { watch: { feed, heartbeatMs: 150 } } });
});
afterEach(async () => {
  await h?.close();
});

const owner = "owner-watch";

async function reserve(): Promise<string> {
  const bytes = pngLikeBytes(64);
  const { uploads } = await h.asService().generateUploadURLs({ ownerId: owner, files: [{ ...fileSpec(bytes), purpose: FilePurpose.STORY }] });
  return uploads[0]!.fileId;
}

/** Reads responses from a watch until `stop` says so; returns them. */
async function collect(stream: AsyncIterable<WatchFilesResponse>, stop: (seen: WatchFilesResponse[]) => boolean): Promise<WatchFilesResponse[]> {
  const seen: WatchFilesResponse[] = [];
  for await (const response of stream) {
    seen.push(response);
    if (stop(seen)) break;
  }
  return seen;
}

const kinds = (responses: WatchFilesResponse[]) =>
  responses.map((r) => (r.kind.case === "event" ? `${FileEventType[r.kind.value.type]}:${r.kind.value.fileId}` : r.kind.case));

describe("WatchFiles", () => {
  it("sends the named files as they are, then their changes, skipping other files and owners", async () => {
    const [a, b, other] = [await reserve(), await reserve(), await reserve()];
    const unknown = "0190a000-0000-7000-8000-000000000000";
    const abort = new AbortController();
    const stream = h.asService().watchFiles({ ownerId: owner, fileIds: [a, b, unknown] }, { signal: abort.signal });
    const seen = collect(stream, (s) => s.filter((r) => r.kind.case === "event").length === 3);

    await new Promise((r) => setTimeout(r, 50)); // the CURRENT reads are done, the watcher is subscribed
    const [recordA] = await h.files.findByIds(owner, [a]);
    const [recordOther] = await h.files.findByIds(owner, [other]);
    feed.publish(toFileEvent(FileEventType.UPLOADED, recordOther!, "e1", new Date())); // not watched
    feed.publish(toFileEvent(FileEventType.UPLOADED, { ...recordA!, ownerId: "someone-else" }, "e2", new Date())); // another owner
    feed.publish(toFileEvent(FileEventType.PROCESSED, recordA!, "e3", new Date()));
    const events = (await seen).filter((r) => r.kind.case === "event");
    abort.abort();
    expect(kinds(events).sort()).toEqual([`CURRENT:${a}`, `CURRENT:${b}`, `PROCESSED:${a}`].sort());
    expect(kinds(events).at(-1)).toBe(`PROCESSED:${a}`);
  });

  it("watches every file of the owner when none are named, with heartbeats while nothing happens", async () => {
    const abort = new AbortController();
    const stream = h.asUser(owner).watchFiles({}, { signal: abort.signal });
    const seen = await collect(stream, (s) => s.length === 2);
    abort.abort();
    expect(seen.map((r) => r.kind.case)).toEqual(["heartbeat", "heartbeat"]);
  });

  it("stops listening once the watcher leaves", async () => {
    const abort = new AbortController();
    const stream = h.asService().watchFiles({ ownerId: owner }, { signal: abort.signal });
    await collect(stream, (s) => s.length === 1);
    abort.abort();
    const deadline = Date.now() + 2_000;
    while (feed.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(feed.size).toBe(0);
  });

  it("scopes the watch to the caller's owner", async () => {
    expect((await rpcError(collect(h.asService().watchFiles({}), () => true))).code).toBe(Code.InvalidArgument);
    expect((await rpcError(collect(h.asUser("mallory").watchFiles({ ownerId: owner }), () => true))).code).toBe(Code.PermissionDenied);
    const tooMany = Array.from({ length: 101 }, (_, i) => `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`);
    const error = await rpcError(collect(h.asService().watchFiles({ ownerId: owner, fileIds: tooMany }), () => true));
    expect(error.rawMessage).toBe("file_ids: at most 100 ids per call (got 101)");
  });
});
