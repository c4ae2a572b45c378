// npm run tasks: the outbox as an operator sees it. With no flag, how many tasks
// wait, run and failed, by kind; `--failed` lists the failed ones (one line
// each: id, kind, file, attempts, last error); `--requeue ID...` or
// `--requeue --all-failed` queues failed tasks again, due now, attempts reset.
// Reads the same settings as the service (DATABASE_URL, or the embedded
// database under DATA_DIR).
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.js";
import { openRepository } from "../src/backends.js";
import { loadDotEnv } from "../src/dev/dot-env.js";
import type { Task } from "../src/domain/task.js";

const USAGE = "usage: npm run tasks [-- --failed [--limit N] | --requeue ID... | --requeue --all-failed]";

function line(t: Task): string {
  const error = (t.lastError ?? "").replace(/\s+/g, " ");
  return `${t.id}\t${t.kind}\tfile ${t.fileId ?? "-"}\tattempts ${t.attempts}\t${error}`;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { failed: { type: "boolean" }, requeue: { type: "boolean" }, "all-failed": { type: "boolean" }, limit: { type: "string" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`tasks: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  const limit = Number(values.limit ?? 1000);
  if (!Number.isInteger(limit) || limit < 1) {
    console.error(`tasks: --limit must be a whole number above 0\n${USAGE}`);
    return 2;
  }
  const ids = positionals.map(Number);
  if (values.requeue && !values["all-failed"] && (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 1))) {
    console.error(`tasks: --requeue takes task ids (from --failed) or --all-failed\n${USAGE}`);
    return 2;
  }

  loadDotEnv();
  const repo = await openRepository(loadConfig());
  try {
    if (values.requeue) {
      const targets = values["all-failed"] ? (await repo.listTasks({ status: "failed", limit })).map((t) => t.id) : ids;
      const requeued = await repo.requeueTasks(targets, new Date());
      console.log(`tasks: ${requeued} of ${targets.length} re-queued`);
      return 0;
    }
    if (values.failed) {
      const failed = await repo.listTasks({ status: "failed", limit });
      for (const t of failed) console.log(line(t));
      console.log(`tasks: ${failed.length} failed`);
      return 0;
    }
    const stats = await repo.taskStats(new Date());
    for (const c of stats.counts.sort((a, b) => a.kind.localeCompare(b.kind) || a.status.localeCompare(b.status))) {
      console.log(`${c.kind}\t${c.status}\t${c.count}`);
    }
    console.log(`tasks: oldest due ${Math.round(stats.oldestDueMs / 1000)} s, oldest unsent event ${Math.round(stats.oldestEventMs / 1000)} s`);
    return 0;
  } finally {
    await repo.close();
  }
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(`tasks: ${e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
