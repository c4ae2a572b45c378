// ls, get, url, rm: one RPC each, printed for a person (get prints JSON).
import { toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Option, type Command } from "commander";
import { FileSchema, FileStatus, mapBounded, type File } from "@file-service/client";
import { ConnectError } from "@connectrpc/connect";
import { withClient } from "../connection.js";
import { describeError, enumWord, formatBytes, positiveInteger, table } from "../report.js";

const STATUSES = Object.fromEntries(
  Object.entries(FileStatus)
    .filter(([name, value]) => typeof value === "number" && name !== "UNSPECIFIED")
    .map(([name, value]) => [name.toLowerCase(), value as FileStatus]),
);

export function registerFileCommands(program: Command): void {
  program
    .command("ls")
    .description("list the owner's files, newest first (deleted and expired ones only with --status)")
    .addOption(new Option("--status <status>", "only files in this state").choices(Object.keys(STATUSES)))
    .option("--limit <n>", "at most this many", "50")
    .option("-q, --quiet", "ids only, one a line (for scripts)")
    .action(async (options: { status?: string; limit: string; quiet?: boolean }, command: Command) => {
      const limit = positiveInteger(options.limit, "--limit");
      await withClient(command, async ({ client, owner }) => {
        const files: File[] = [];
        let pageToken = "";
        do {
          const page = await client.listFiles({
            ownerId: owner,
            pageSize: Math.min(1000, limit - files.length),
            pageToken,
            ...(options.status !== undefined ? { status: STATUSES[options.status]! } : {}),
          });
          files.push(...page.files);
          pageToken = page.nextPageToken;
        } while (pageToken !== "" && files.length < limit);
        if (options.quiet) return void process.stdout.write(files.map((f) => `${f.id}\n`).join(""));
        const rows = files.map((f) => [f.id, f.filename, formatBytes(f.sizeBytes), enumWord(FileStatus, f.status), f.variants.map((v) => v.name).join(","), created(f)]);
        process.stdout.write(`${table(["id", "name", "size", "status", "variants", "created"], rows)}\n`);
      });
    });

  program
    .command("get")
    .description("print one file's record (JSON, as the Connect API shows it)")
    .argument("<id>", "file id")
    .action(async (id: string, _options: unknown, command: Command) => {
      await withClient(command, async ({ client, owner }) => {
        const { file } = await client.getFile({ ownerId: owner, fileId: id });
        process.stdout.write(`${toJsonString(FileSchema, file!, { prettySpaces: 2 })}\n`);
      });
    });

  program
    .command("url")
    .description("print a presigned download URL")
    .argument("<id>", "file id")
    .option("--variant <name>", "original, or a variant such as thumb, medium, large", "original")
    .option("--attachment", "Content-Disposition: attachment (download) instead of inline")
    .option("--expires <seconds>", "how long the URL works (default: the service's, 15 minutes)")
    .action(async (id: string, options: { variant: string; attachment?: boolean; expires?: string }, command: Command) => {
      const expirySeconds = options.expires === undefined ? undefined : positiveInteger(options.expires, "--expires");
      await withClient(command, async ({ client, owner }) => {
        const [url] = await client.downloadUrls(owner, [id], {
          variant: options.variant,
          attachment: options.attachment ?? false,
          ...(expirySeconds !== undefined ? { expirySeconds } : {}),
        });
        process.stdout.write(`${url!.url}\n`);
      });
    });

  program
    .command("rm")
    .description("delete files (their objects are purged in the background)")
    .argument("<ids...>", "file ids")
    .action(async (ids: string[], _options: unknown, command: Command) => {
      await withClient(command, async ({ client, owner }) => {
        // One DeleteFile each, so every id gets its own answer and Code.
        const outcomes = await mapBounded(ids, 4, async (id) => {
          try {
            await client.deleteFile({ ownerId: owner, fileId: id });
            return `deleted ${id}`;
          } catch (e) {
            if (!(e instanceof ConnectError)) throw e;
            return new Error(describeError(e));
          }
        });
        for (const outcome of outcomes) {
          if (outcome instanceof Error) process.stderr.write(`${outcome.message}\n`);
          else process.stdout.write(`${outcome}\n`);
        }
        if (outcomes.some((o) => o instanceof Error)) process.exitCode = 1;
      });
    });
}

function created(file: File): string {
  return file.createdAt === undefined ? "" : timestampDate(file.createdAt).toISOString().replace(/\.\d+Z$/, "Z");
}
