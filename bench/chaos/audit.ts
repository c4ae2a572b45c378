// The audit after a chaos run (issue 11): does every file end in a state that
// says the truth, and does every byte in the bucket belong to a row? Reads the
// database and the bucket directly (never through the service), pages through
// the bucket, and counts what a durable lifecycle must leave at zero. Kept apart
// from the harness so tests can seed a case by hand and audit it.
import { readdir } from "node:fs/promises";
import { ListObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import mysql from "mysql2/promise";

export interface AuditTarget {
  databaseUrl: string;
  s3: { endpoint: string; bucket: string; region?: string; accessKeyId?: string; secretAccessKey?: string };
  /** The folder the service's temp upload files go to (the harness gives each instance this UPLOAD_TMP_DIR). */
  tmpDir?: string;
}

/** What the clients saw, to tell lost files and partial batches from the rest. */
export interface ClientKnowledge {
  /** Files a client saw confirmed (ConfirmUpload's files, UploadFileStream's file). */
  confirmed: Iterable<string>;
  /** Files a client deleted and saw the delete answered OK. */
  deleted: Iterable<string>;
  /** Every file id any answer carried (a pending row outside this set is one no client knows). */
  known: Iterable<string>;
  /** Batches: ids created or deleted together; `ok` when the call answered OK. */
  batches: Iterable<{ kind: "generate" | "delete"; ids: readonly string[]; ok: boolean }>;
}

export interface AuditOptions {
  /** UPLOAD_EXPIRY_GRACE_SECONDS the service ran with, for rows that carry no due time. */
  graceSeconds: number;
  /** How late an expiry may be and still count as on time (the issue: within 10 s). */
  expirySlackMs?: number;
  now?: Date;
  /** Ids kept per finding, for the report. */
  examples?: number;
  /** Ids or keys listed first among a finding's examples when found (e.g. planted damage). */
  watch?: readonly string[];
}

export interface Finding {
  count: number;
  examples: string[];
}

export interface AuditResult {
  /** Objects under files/<id>/ with no row for <id>. */
  orphans: Finding;
  /** Uploaded files whose processing is neither finished nor queued nor held by a worker. */
  unqueued: Finding;
  /** Pending files whose expiry was due more than the slack ago. */
  expired: Finding;
  /** Deleted or expired files whose objects are still in the bucket. */
  deletedObjects: Finding;
  /** Files a client saw confirmed (and did not delete) that are gone: no row, not uploaded, or no original. */
  lost: Finding;
  /** Pending rows whose ids no client answer carried (informational: idempotency's job). */
  unknownPending: Finding;
  /** Files left in the service's temp upload folder. */
  tempFiles: Finding;
  /** Batches whose rows are part there and part not (created), or part deleted and part not. */
  partialBatches: Finding;
  /** Rows by status, and objects in the bucket, for the table. */
  totals: { rows: Record<string, number>; objects: number; deletedObjectsBy: Record<string, number>; tasks: Record<string, number> };
}

const ID_PATTERN = /^files\/([^/]+)\//;

/**
 * The bucket's keys, a page (ListObjects, up to 1,000) at a time, each page after the last key
 * of the one before. Not ListObjectsV2: s3rver signs its continuation tokens with DES, which
 * Node 24's OpenSSL 3 refuses, so any V2 listing longer than a page fails with InternalError.
 */
async function* listKeys(s3: S3Client, bucket: string): AsyncGenerator<string[]> {
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Marker: marker, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    if (keys.length > 0) yield keys;
    if (!page.IsTruncated || keys.length === 0) return;
    marker = keys.at(-1);
  }
}

function finding(ids: Iterable<string>, keep: number, watch: readonly string[] = []): Finding {
  const all = [...ids];
  const first = all.filter((id) => watch.includes(id));
  return { count: all.length, examples: [...first, ...all.filter((id) => !watch.includes(id))].slice(0, Math.max(keep, first.length)) };
}

export async function audit(target: AuditTarget, client: ClientKnowledge, options: AuditOptions): Promise<AuditResult> {
  const keep = options.examples ?? 5;
  const now = options.now ?? new Date();
  // timezone Z: DATETIME columns hold UTC digits (see db/mysql/schema.ts).
  const db = await mysql.createConnection({ uri: target.databaseUrl, timezone: "Z", connectTimeout: 5_000 });
  const s3 = new S3Client({
    endpoint: target.s3.endpoint,
    region: target.s3.region ?? "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: target.s3.accessKeyId ?? "S3RVER", secretAccessKey: target.s3.secretAccessKey ?? "S3RVER" },
  });
  try {
    const rowStatus = async (ids: readonly string[]): Promise<Map<string, string>> => {
      const found = new Map<string, string>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        if (chunk.length === 0) continue;
        const [rows] = await db.query("SELECT id, status FROM files WHERE id IN (?)", [chunk]);
        for (const r of rows as Array<{ id: string; status: string }>) found.set(r.id, r.status);
      }
      return found;
    };

    // The bucket, page by page: objects without a row, and objects of deleted/expired rows.
    const orphans = new Set<string>();
    const deletedObjects = new Set<string>();
    const withOriginal = new Set<string>();
    const deletedObjectsBy: Record<string, number> = {};
    let objects = 0;
    for await (const keys of listKeys(s3, target.s3.bucket)) {
      objects += keys.length;
      const ids = [...new Set(keys.map((k) => ID_PATTERN.exec(k)?.[1]).filter((id): id is string => id !== undefined))];
      const statuses = await rowStatus(ids);
      for (const key of keys) {
        const id = ID_PATTERN.exec(key)?.[1];
        const status = id === undefined ? undefined : statuses.get(id);
        if (status === undefined) orphans.add(key);
        else if (status === "deleted" || status === "expired") {
          deletedObjects.add(key);
          deletedObjectsBy[status] = (deletedObjectsBy[status] ?? 0) + 1;
        }
        if (id !== undefined && key.endsWith("/original")) withOriginal.add(id);
      }
    }

    const ids = async (sql: string, params: unknown[] = []): Promise<string[]> => {
      const [rows] = await db.query(sql, params);
      return (rows as Array<{ id: string }>).map((r) => r.id);
    };
    const unqueued = await ids(
      `SELECT id FROM files WHERE status = 'uploaded' AND (
         (processing_status = 'pending' AND processing_due_at IS NULL) OR
         (processing_status = 'processing' AND processing_locked_until IS NULL))`,
    );
    const cutoff = new Date(now.getTime() - (options.expirySlackMs ?? 10_000));
    const expired = await ids(
      `SELECT id FROM files WHERE status = 'pending'
         AND COALESCE(expire_due_at, upload_expires_at + INTERVAL ? SECOND) < ?`,
      [options.graceSeconds, cutoff],
    );

    // A delete whose answer never came may have committed: only files no client asked to delete can be lost.
    const deleted = new Set([...client.deleted, ...[...client.batches].filter((b) => b.kind === "delete").flatMap((b) => b.ids)]);
    const confirmed = [...new Set(client.confirmed)].filter((id) => !deleted.has(id));
    const confirmedStatus = await rowStatus(confirmed);
    const lost = confirmed.filter((id) => confirmedStatus.get(id) !== "uploaded" || !withOriginal.has(id));

    const known = new Set(client.known);
    const unknownPending = (await ids("SELECT id FROM files WHERE status = 'pending'")).filter((id) => !known.has(id));

    const partial: string[] = [];
    for (const batch of client.batches) {
      const statuses = await rowStatus(batch.ids);
      const whole =
        batch.kind === "generate"
          ? statuses.size === 0 || statuses.size === batch.ids.length
          : (() => {
              const gone = batch.ids.filter((id) => statuses.get(id) === "deleted").length;
              return batch.ok ? gone === batch.ids.length : gone === 0 || gone === batch.ids.length;
            })();
      if (!whole || (batch.kind === "generate" && batch.ok && statuses.size !== batch.ids.length)) partial.push(batch.ids.join("+"));
    }

    const tempFiles = target.tmpDir === undefined ? [] : await readdir(target.tmpDir).catch(() => [] as string[]);

    const [totals] = await db.query("SELECT status, COUNT(*) AS n FROM files GROUP BY status");
    const rows = Object.fromEntries((totals as Array<{ status: string; n: number }>).map((r) => [r.status, Number(r.n)]));
    // The outbox, where there is one: what is still queued, running or failed, by kind.
    const [taskRows] = await db.query("SELECT kind, status, COUNT(*) AS n FROM tasks GROUP BY kind, status").catch(() => [[]]);
    const tasks = Object.fromEntries((taskRows as Array<{ kind: string; status: string; n: number }>).map((r) => [`${r.kind}/${r.status}`, Number(r.n)]));

    return {
      orphans: finding(orphans, keep, options.watch),
      unqueued: finding(unqueued, keep, options.watch),
      expired: finding(expired, keep),
      deletedObjects: finding(deletedObjects, keep),
      lost: finding(lost, keep),
      unknownPending: finding(unknownPending, keep),
      tempFiles: finding(tempFiles, keep),
      partialBatches: finding(partial, keep),
      totals: { rows, objects, deletedObjectsBy, tasks },
    };
  } finally {
    s3.destroy();
    await db.end();
  }
}
