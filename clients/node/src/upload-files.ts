// The presigned upload as people run it: hash every file (MD5 and size, which
// the contract signs), GenerateUploadURLs in batches the contract allows, PUT
// all bytes in parallel with the returned headers (bounded, retried on network
// errors and 5xx), then ConfirmUpload what arrived. Returns the confirmed
// files and, per file, what failed and why.
import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { ConfirmFailureCode, FilePurpose, type File, type FileService, type PresignedUpload } from "./contract.js";
import { chunked, mapBounded } from "./bounded.js";
import { prepareFile, type PreparedFile, type UploadInput } from "./file-input.js";
import { putPresigned, PutError } from "./put-object.js";

// The contract's limits per call.
const FILES_PER_GENERATE = 10;
const IDS_PER_CONFIRM = 100;

export interface UploadFilesOptions {
  /** For inputs that name none (default: unspecified, the service's general attachment). */
  purpose?: FilePurpose;
  /** PUTs in flight at once (default 4). */
  concurrency?: number;
  /** Retries per PUT after the first attempt (default 3). */
  retries?: number;
  /** Called as each file is hashed and sent: `loaded` of `total` bytes of file `index` (input order). */
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export interface UploadProgress {
  index: number;
  name: string;
  fileId: string | undefined;
  phase: "hashed" | "sending" | "sent" | "confirmed" | "failed";
  loaded: number;
  total: number;
}

export interface UploadFailure {
  index: number;
  name: string;
  fileId: string;
  /** Where it failed: the PUT to the store, or the service's check at ConfirmUpload. */
  stage: "put" | "confirm";
  /** For a confirm failure, the contract's code (MD5_MISMATCH, ...). */
  code?: ConfirmFailureCode;
  /** For a PUT the store answered, its HTTP status. */
  httpStatus?: number;
  reason: string;
}

export interface UploadFilesResult {
  /** Confirmed files, in input order. */
  files: File[];
  failures: UploadFailure[];
  /** The prepared inputs, in input order (names, sizes, MD5s). */
  inputs: PreparedFile[];
  /** The file id reserved for each input, in input order. */
  fileIds: string[];
}

/**
 * Every batch is requested before any byte is sent, so a refused request
 * (InvalidArgument naming the file and rule, thrown as a ConnectError) uploads
 * nothing; its reserved files expire on their own.
 */
export async function uploadFiles(
  rpc: Client<typeof FileService>,
  ownerId: string,
  inputs: readonly UploadInput[],
  options: UploadFilesOptions = {},
): Promise<UploadFilesResult> {
  const callOptions = options.signal ? { signal: options.signal } : {};
  const report = (index: number, progress: Omit<UploadProgress, "index" | "name">) =>
    options.onProgress?.({ index, name: prepared[index]!.name, ...progress });

  const prepared = await mapBounded(inputs, 4, async (input, index) => {
    const file = await prepareFile(input, options.purpose);
    options.onProgress?.({ index, name: file.name, fileId: undefined, phase: "hashed", loaded: 0, total: file.sizeBytes });
    return file;
  });

  const uploads: PresignedUpload[] = [];
  for (const batch of chunked(prepared, FILES_PER_GENERATE)) {
    const { uploads: presigned } = await rpc.generateUploadURLs(
      {
        ownerId,
        files: batch.map((f) => ({ filename: f.filename, contentType: f.contentType, sizeBytes: BigInt(f.sizeBytes), md5: f.md5, purpose: f.purpose })),
        // A retry of this same call (e.g. by an interceptor) gets the same files back.
        idempotencyKey: randomUUID(),
      },
      callOptions,
    );
    uploads.push(...presigned);
  }

  const failures: UploadFailure[] = [];
  const sent = await mapBounded(uploads, options.concurrency ?? 4, async (upload, index) => {
    const file = prepared[index]!;
    const total = file.sizeBytes;
    try {
      await putPresigned(upload, file.body, {
        ...(options.retries !== undefined ? { retries: options.retries } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (loaded) => report(index, { fileId: upload.fileId, phase: "sending", loaded, total }),
      });
      report(index, { fileId: upload.fileId, phase: "sent", loaded: total, total });
      return true;
    } catch (e) {
      if (!(e instanceof PutError)) throw e;
      failures.push({ index, name: file.name, fileId: upload.fileId, stage: "put", ...(e.status !== undefined ? { httpStatus: e.status } : {}), reason: e.message });
      report(index, { fileId: upload.fileId, phase: "failed", loaded: 0, total });
      return false;
    }
  });

  const indexOf = new Map(uploads.map((u, i) => [u.fileId, i]));
  const confirmed = new Map<string, File>();
  const toConfirm = uploads.filter((_, i) => sent[i]).map((u) => u.fileId);
  for (const ids of chunked(toConfirm, IDS_PER_CONFIRM)) {
    const answer = await rpc.confirmUpload({ ownerId, fileIds: ids }, callOptions);
    for (const file of answer.files) confirmed.set(file.id, file);
    for (const failure of answer.failures) {
      const index = indexOf.get(failure.fileId)!;
      failures.push({ index, name: prepared[index]!.name, fileId: failure.fileId, stage: "confirm", code: failure.code, reason: failure.reason });
      const total = prepared[index]!.sizeBytes;
      report(index, { fileId: failure.fileId, phase: "failed", loaded: total, total });
    }
  }
  for (const id of confirmed.keys()) {
    const index = indexOf.get(id)!;
    const total = prepared[index]!.sizeBytes;
    report(index, { fileId: id, phase: "confirmed", loaded: total, total });
  }

  return {
    files: uploads.flatMap((u) => confirmed.get(u.fileId) ?? []),
    failures: failures.sort((a, b) => a.index - b.index),
    inputs: prepared,
    fileIds: uploads.map((u) => u.fileId),
  };
}
