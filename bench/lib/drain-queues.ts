// Waits until the service owes nothing in the background: no processing job and
// no task (an event to publish, a purge) still queued. Before a measurement, so
// that what seeding queued is not drained during it; after a chaos run, before
// its audit.
import mysql from "mysql2/promise";

/** Returns true once nothing is owed, false when `maxMs` passed first. */
export async function drainQueues(databaseUrl: string, maxMs: number): Promise<boolean> {
  const db = await mysql.createConnection({ uri: databaseUrl, timezone: "Z" });
  try {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const [[files]] = (await db.query(
        "SELECT COUNT(*) AS n FROM files WHERE status = 'uploaded' AND processing_status IN ('pending', 'processing') AND processing_due_at IS NOT NULL",
      )) as unknown as [[{ n: number }]];
      const [[tasks]] = (await db.query("SELECT COUNT(*) AS n FROM tasks WHERE status <> 'failed'").catch(() => [[{ n: 0 }]])) as unknown as [[{ n: number }]];
      if (Number(files.n) + Number(tasks.n) === 0) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  } finally {
    await db.end();
  }
}
