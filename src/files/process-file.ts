// ProcessFile: (re)make an uploaded file's variants, here and now (the job is
// claimed for this process's worker) or in the background.
import type { FileRecord } from "../domain/file.js";
import { FileError } from "../domain/errors.js";
import { runJob } from "../processing/run-job.js";
import { ownedFile, type UseCaseDeps } from "./use-case-deps.js";

export async function processFile(
  deps: Pick<UseCaseDeps, "files" | "objects" | "images" | "retry" | "processing" | "log" | "now">,
  ownerId: string,
  fileId: string,
  options: { webpQuality: number | null; async: boolean },
): Promise<FileRecord> {
  const { files, now } = deps;
  const record = await ownedFile(files, ownerId, fileId);
  if (record.status !== "uploaded") {
    throw new FileError(
      "failed_precondition",
      record.status === "pending" ? `file ${fileId} is pending: confirm the upload first` : `file ${fileId} is ${record.status}`,
    );
  }
  // Nothing is made of bytes the scanner could not judge (decoding is what scanning guards).
  if (record.scanStatus === "error") {
    throw new FileError(
      "failed_precondition",
      `file ${fileId} could not be scanned for malware (${record.scanError ?? "no reason given"}): nothing is made of it`,
    );
  }
  const { workerId, leaseMs } = deps.processing;
  const { webpQuality } = options;
  await files.requestProcessing(ownerId, [fileId], { webpQuality, claim: options.async ? undefined : { workerId, leaseMs } }, now());
  if (options.async) {
    deps.processing.notify();
  } else {
    const job = {
      fileId,
      ownerId,
      objectKey: record.objectKey,
      contentType: record.contentType,
      purpose: record.purpose,
      webpQuality,
      attempts: 1,
      sizeBytes: record.sizeBytes,
      scanStatus: record.scanStatus,
    };
    await runJob(job, workerId, deps);
  }
  return ownedFile(files, ownerId, fileId);
}
