// createFileClient: the generated FileService methods over one transport, plus
// the flows people run with them.
import { createClient, type Client } from "@connectrpc/connect";
import { FileService, type DownloadURL, type File, type FileEvent } from "./contract.js";
import { chunked } from "./bounded.js";
import type { UploadInput } from "./file-input.js";
import { openTransport, type ConnectionOptions } from "./transport.js";
import { uploadFiles, type UploadFilesOptions, type UploadFilesResult } from "./upload-files.js";
import { uploadStream, type StreamSource, type UploadStreamOptions } from "./upload-stream.js";
import { waitForProcessing, watchFiles, type WatchOptions } from "./watch.js";

export interface DownloadOptions {
  /** "original" (default) or a variant name ("thumb", "medium", "large"). */
  variant?: string;
  /** Content-Disposition: attachment instead of inline. */
  attachment?: boolean;
  expirySeconds?: number;
}

export interface FileClient extends Client<typeof FileService> {
  /** Presigned upload of paths or bytes: GenerateUploadURLs → PUT (parallel, retried) → ConfirmUpload. */
  uploadFiles(ownerId: string, files: readonly UploadInput[], options?: UploadFilesOptions): Promise<UploadFilesResult>;
  /** Bytes this process holds, through the service (UploadFileStream). */
  uploadStream(ownerId: string, source: StreamSource, options?: UploadStreamOptions): Promise<File>;
  /** Presigned GET URLs, in the order of `fileIds` (any number: sent in batches of 100). */
  downloadUrls(ownerId: string, fileIds: readonly string[], options?: DownloadOptions): Promise<DownloadURL[]>;
  /** Events for the owner's files (or only `fileIds`): the current state first, then every change. */
  watch(ownerId: string, fileIds?: readonly string[], options?: WatchOptions): AsyncGenerator<FileEvent>;
  /** The files once their processing has ended (or as last seen at the timeout). */
  waitForProcessing(ownerId: string, fileIds: readonly string[], options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<Map<string, File>>;
  /** Closes the connection (an open HTTP/2 session keeps the process alive). */
  close(): void;
  [Symbol.dispose](): void;
}

export function createFileClient(options: ConnectionOptions): FileClient {
  const { transport, close } = openTransport(options);
  const rpc = createClient(FileService, transport);
  return {
    ...rpc,
    uploadFiles: (ownerId, files, opts) => uploadFiles(rpc, ownerId, files, opts),
    uploadStream: (ownerId, source, opts) => uploadStream(rpc, ownerId, source, opts),
    async downloadUrls(ownerId, fileIds, opts = {}) {
      const urls: DownloadURL[] = [];
      for (const ids of chunked(fileIds, 100)) {
        const answer = await rpc.getDownloadURLs({ ownerId, fileIds: ids, variant: opts.variant ?? "", attachment: opts.attachment ?? false, expirySeconds: opts.expirySeconds ?? 0 });
        urls.push(...answer.urls);
      }
      return urls;
    },
    watch: (ownerId, fileIds, opts) => watchFiles(rpc, ownerId, fileIds, opts),
    waitForProcessing: (ownerId, fileIds, opts) => waitForProcessing(rpc, ownerId, fileIds, opts),
    close,
    [Symbol.dispose]: close,
  };
}
