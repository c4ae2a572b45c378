// What the browser runs in the WatchFiles test: connect-web's Connect transport
// (fetch streaming) over the generated client, as a web app would, recording
// each event with the moment it arrived.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FileService } from "../../../gen/file/v1/file_service_pb.js";

export interface Seen {
  type: number;
  processingStatus: number;
  variants: number;
  occurredAtMs: number;
  receivedAtMs: number;
}

/** What the page puts on globalThis for the test to drive and read. */
export interface WatchPage {
  seen: Seen[];
  watchError?: string;
  watch(baseUrl: string, token: string, fileId: string): void;
}

const page = globalThis as unknown as WatchPage;
page.seen = [];
page.watch = (baseUrl, token, fileId) => {
  const client = createClient(
    FileService,
    createConnectTransport({
      baseUrl,
      interceptors: [(next) => (req) => (req.header.set("Authorization", `Bearer ${token}`), next(req))],
    }),
  );
  void (async () => {
    try {
      for await (const res of client.watchFiles({ fileIds: [fileId] })) {
        if (res.kind.case !== "event") continue;
        const e = res.kind.value;
        const at = e.occurredAt;
        page.seen.push({
          type: e.type,
          processingStatus: e.file?.processingStatus ?? 0,
          variants: e.file?.variants.length ?? 0,
          occurredAtMs: at ? Number(at.seconds) * 1000 + Math.floor(at.nanos / 1e6) : 0,
          receivedAtMs: Date.now(),
        });
      }
    } catch (err) {
      page.watchError = String(err);
    }
  })();
};
