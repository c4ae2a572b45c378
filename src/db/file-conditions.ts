// The rules of FileRepository as drizzle conditions, shared by the MySQL and
// SQLite implementations (drizzle's operators work on either dialect's columns;
// only the query builders and result shapes differ).
import { and, eq, inArray, lt, ne, type AnyColumn, type SQL } from "drizzle-orm";
import type { FileStatus, ListFilesQuery } from "./file-repository.js";

export interface FileColumns {
  id: AnyColumn;
  ownerId: AnyColumn;
  status: AnyColumn;
}

/** The owner's rows among `ids`: another owner's rows never match. */
export function ownedAmong(t: FileColumns, ownerId: string, ids: readonly string[]): SQL | undefined {
  return and(eq(t.ownerId, ownerId), inArray(t.id, [...ids]));
}

/** What markUploaded may move: only pending rows. */
export function pendingAmong(t: FileColumns, ownerId: string, ids: readonly string[]): SQL | undefined {
  return and(ownedAmong(t, ownerId, ids), eq(t.status, "pending"));
}

/** What markDeleted may move: rows not deleted yet. */
export function notDeletedAmong(t: FileColumns, ownerId: string, ids: readonly string[]): SQL | undefined {
  return and(ownedAmong(t, ownerId, ids), ne(t.status, "deleted"));
}

/** One keyset page of the owner's rows in the given statuses (order by id desc). */
export function listedBy(t: FileColumns, { ownerId, statuses, beforeId }: ListFilesQuery): SQL | undefined {
  return and(
    eq(t.ownerId, ownerId),
    inArray(t.status, [...statuses]),
    beforeId === undefined ? undefined : lt(t.id, beforeId),
  );
}

/** GROUP BY rows → every status, 0 where a status has no rows (and so no group). */
export function countsByStatus(rows: ReadonlyArray<{ status: FileStatus; count: number }>): Record<FileStatus, number> {
  const counts: Record<FileStatus, number> = { pending: 0, uploaded: 0, deleted: 0 };
  for (const row of rows) counts[row.status] = row.count;
  return counts;
}
