// `file-service watch [ids...]`: one line per event until Ctrl-C.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { FileEventType, FileStatus, ProcessingStatus } from "@file-service/client";
import { withClient } from "../connection.js";
import { enumWord } from "../report.js";

export function registerWatchCommand(program: Command): void {
  program
    .command("watch")
    .description("print what happens to the owner's files (or only the given ids) as it happens, until Ctrl-C")
    .argument("[ids...]", "file ids (up to 100; default: all the owner's files)")
    .action(async (ids: string[], _options: unknown, command: Command) => {
      const stop = new AbortController();
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());
      await withClient(command, async ({ client, owner }) => {
        process.stderr.write(`watching ${ids.length > 0 ? ids.join(", ") : `the files of ${owner || "this user"}`} (Ctrl-C to stop)\n`);
        for await (const event of client.watch(owner, ids, { signal: stop.signal })) {
          const file = event.file;
          const at = event.occurredAt === undefined ? "" : timestampDate(event.occurredAt).toISOString();
          const parts = [at, enumWord(FileEventType, event.type), event.fileId];
          if (file !== undefined) {
            parts.push(file.filename, enumWord(FileStatus, file.status), `processing ${enumWord(ProcessingStatus, file.processingStatus)}`);
            if (file.variants.length > 0) parts.push(file.variants.map((v) => v.name).join(","));
          }
          process.stdout.write(`${parts.join(" ")}\n`);
        }
      });
    });
}
