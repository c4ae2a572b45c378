// `file-service upload <paths...>`: presigned uploads (or --stream through the
// service), a progress bar per file, then a table of what became of each.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { ConfirmFailureCode, FilePurpose, FileStatus, ProcessingStatus, isImageFilename, mapBounded, type File, type FileClient } from "@file-service/client";
import { ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { withClient } from "../connection.js";
import { UploadBars } from "../progress.js";
import { describeError, enumWord, formatBytes, positiveInteger, table, UsageError } from "../report.js";

const PURPOSES = Object.fromEntries(
  Object.entries(FilePurpose)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => [name.toLowerCase().replaceAll("_", "-"), value as FilePurpose]),
);

interface UploadOptions {
  purpose?: string;
  stream?: boolean;
  concurrency: string;
  wait: boolean;
}

/** One line of the summary: a file that arrived, or the reason it did not. */
interface Row {
  name: string;
  /** The file's id, also for a presigned upload that failed after its id was reserved. */
  id?: string;
  size: number;
  file?: File;
  failure?: string;
  /** Short, for the status column: "type-mismatch", "http-403", "invalid-argument". */
  failureCode?: string;
}

export function registerUploadCommand(program: Command): void {
  program
    .command("upload")
    .description("upload images (files, or directories of .jpg .jpeg .png .gif .webp): presigned PUTs, or --stream through the service")
    .argument("<paths...>", "files or directories")
    .addOption(new Option("--purpose <purpose>", "what the files are for (decides size limit and variants)").choices(Object.keys(PURPOSES)))
    .option("--stream", "send the bytes through the service (UploadFileStream) instead of presigned PUTs")
    .option("--concurrency <n>", "uploads in flight at once", "4")
    .option("--no-wait", "do not wait for the variants of presigned uploads")
    .action(async (paths: string[], options: UploadOptions, command: Command) => {
      const files = await expand(paths);
      const purpose = options.purpose === undefined ? undefined : PURPOSES[options.purpose];
      const concurrency = positiveInteger(options.concurrency, "--concurrency");
      const rows = await withClient(command, async ({ client, owner }) => {
        const bars = new UploadBars();
        try {
          const settings = { files, concurrency, bars, ...(purpose !== undefined ? { purpose } : {}) };
          return options.stream ? await streamed(client, owner, settings) : await presigned(client, owner, settings, options.wait);
        } finally {
          bars.stop();
        }
      });
      process.stdout.write(`${summary(rows)}\n`);
      if (rows.some((r) => r.failure !== undefined)) process.exitCode = 1;
    });
}

interface Settings {
  files: string[];
  concurrency: number;
  bars: UploadBars;
  purpose?: FilePurpose;
}

/** Presigned PUTs (uploadFiles), then, unless told not to, the wait for each file's variants. */
async function presigned(client: FileClient, owner: string, { files, concurrency, bars, purpose }: Settings, wait: boolean): Promise<Row[]> {
  const result = await client.uploadFiles(owner, files, {
    ...(purpose !== undefined ? { purpose } : {}),
    concurrency,
    onProgress: (p) => bars.update(p.index, p.name, p.loaded, p.total, p.phase === "failed" ? "failed" : p.phase === "confirmed" ? "done" : ""),
  });
  bars.stop();
  const byId = new Map(result.files.map((f) => [f.id, f]));
  if (wait && byId.size > 0) {
    for (const [id, file] of await client.waitForProcessing(owner, [...byId.keys()], { timeoutMs: 60_000 })) byId.set(id, file);
  }
  const failures = new Map(result.failures.map((f) => [f.index, f]));
  return result.inputs.map((input, index): Row => {
    const failure = failures.get(index);
    if (failure === undefined) {
      const file = byId.get(result.fileIds[index]!);
      return { name: input.name, size: input.sizeBytes, ...(file !== undefined ? { file } : {}) };
    }
    const code = failure.code !== undefined ? enumWord(ConfirmFailureCode, failure.code) : failure.httpStatus !== undefined ? `http-${failure.httpStatus}` : "network";
    return { name: input.name, id: failure.fileId, size: input.sizeBytes, failure: `${failure.stage === "put" ? "PUT" : "ConfirmUpload"}: ${failure.reason}`, failureCode: code };
  });
}

/** Each file through the service (UploadFileStream): answered with its variants made; a refusal is that file's row. */
async function streamed(client: FileClient, owner: string, { files, concurrency, bars, purpose }: Settings): Promise<Row[]> {
  return mapBounded(files, concurrency, async (path, index): Promise<Row> => {
    const size = (await stat(path)).size;
    try {
      const file = await client.uploadStream(owner, path, {
        ...(purpose !== undefined ? { purpose } : {}),
        onProgress: (loaded) => bars.update(index, path, loaded, size),
      });
      bars.update(index, path, size, size, "done");
      return { name: path, size, file };
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      bars.update(index, path, 0, size, "failed");
      return { name: path, size, failure: describeError(e), failureCode: codeToString(e.code).replaceAll("_", "-") };
    }
  });
}

/** Files as given, directories as the images inside them (recursively, sorted). */
async function expand(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if (!(await stat(path)).isDirectory()) {
      files.push(path);
      continue;
    }
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    const images = entries.filter((e) => e.isFile() && isImageFilename(e.name)).map((e) => join(e.parentPath, e.name));
    if (images.length === 0) throw new UsageError(`no images (.jpg .jpeg .png .gif .webp) in ${path}`);
    files.push(...images.sort());
  }
  return files;
}

function summary(rows: readonly Row[]): string {
  const body = rows.map((row) => [
    row.file?.id ?? row.id ?? "-",
    row.name,
    formatBytes(row.size),
    row.failure !== undefined ? `failed: ${row.failureCode}` : row.file !== undefined ? statusOf(row.file) : "-",
    row.file?.variants.map((v) => v.name).join(",") ?? "",
  ]);
  const failed = rows.filter((r) => r.failure !== undefined);
  const uploaded = rows.length - failed.length;
  return [
    table(["id", "name", "size", "status", "variants"], body),
    "",
    `${uploaded} of ${rows.length} uploaded${failed.length > 0 ? `, ${failed.length} failed:` : ""}`,
    ...failed.map((r) => `  ${r.name}: ${r.failure}`),
  ].join("\n");
}

/** "uploaded", or "uploaded (processing pending)" until the variants exist. */
function statusOf(file: File): string {
  const status = enumWord(FileStatus, file.status);
  if (file.status !== FileStatus.UPLOADED || file.processingStatus === ProcessingStatus.COMPLETED) return status;
  return `${status} (processing ${enumWord(ProcessingStatus, file.processingStatus)})`;
}
