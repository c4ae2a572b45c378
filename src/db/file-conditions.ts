// The rules of FileRepository as drizzle conditions and SET values, shared by the
// MySQL and SQLite implementations (drizzle's operators work on either dialect's
// columns; only the query builders and result shapes differ).
import { and, eq, inArray, lt, lte, ne, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { FileRecord, FileStatus, ListFilesQuery, ProcessingClaim, ProcessingRequest, ProcessingResult, VariantRecord } from "../domain/file.js";
import { FILE_STATUSES } from "../domain/file.js";

export interface FileColumns {
  id: AnyColumn;
  ownerId: AnyColumn;
  status: AnyColumn;
}

/** The columns of the processing work queue (see the schemas). */
export interface ProcessingColumns extends FileColumns {
  dedupSha256: AnyColumn;
  processingStatus: AnyColumn;
  processingAttempts: AnyColumn;
  processingDueAt: AnyColumn;
  processingLockedBy: AnyColumn;
  processingLockedUntil: AnyColumn;
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

/** What requestProcessing may queue: uploaded rows (not pending, not deleted). */
export function uploadedAmong(t: FileColumns, ownerId: string, ids: readonly string[]): SQL | undefined {
  return and(ownedAmong(t, ownerId, ids), eq(t.status, "uploaded"));
}

/** One keyset page of the owner's rows in the given statuses (order by id desc). */
export function listedBy(t: FileColumns, { ownerId, statuses, beforeId }: ListFilesQuery): SQL | undefined {
  return and(
    eq(t.ownerId, ownerId),
    inArray(t.status, [...statuses]),
    beforeId === undefined ? undefined : lt(t.id, beforeId),
  );
}

/**
 * The owner's live file holding this hash for dedup. The unique index on
 * (owner_id, dedup_sha256) makes it at most one row, and markDeleted clears
 * the key, so a match is never deleted.
 */
export function holdingHash(t: ProcessingColumns, ownerId: string, sha256: string): SQL | undefined {
  return and(eq(t.ownerId, ownerId), eq(t.dedupSha256, sha256));
}

// Jobs claimProcessing may take at `now`: uploaded files whose processing is
// pending and due, or held under a lease that ran out. Two conditions, each
// read in its own index order and cut at the limit: with their OR, MySQL and
// SQLite read (and MySQL locks) every due row before sorting, however few are
// claimed, so one claimer would hold the whole backlog and the others get nothing.

/** Pending and due (order by processing_due_at). A NULL due time (a presigned upload not confirmed and queued yet) is never due. */
export function pendingDue(t: ProcessingColumns, now: Date): SQL | undefined {
  return and(eq(t.processingStatus, "pending"), lte(t.processingDueAt, now), eq(t.status, "uploaded"));
}

/** Claimed by a worker whose lease ran out (order by processing_locked_until); rare: crashed or stuck workers. */
export function leaseExpired(t: ProcessingColumns, now: Date): SQL | undefined {
  return and(eq(t.processingStatus, "processing"), lt(t.processingLockedUntil, now), eq(t.status, "uploaded"));
}

/** The job of `fileId` while `workerId` still holds it: what complete/fail may change. */
export function claimHeldBy(t: ProcessingColumns, fileId: string, workerId: string): SQL | undefined {
  return and(
    eq(t.id, fileId),
    eq(t.processingLockedBy, workerId),
    eq(t.processingStatus, "processing"),
    ne(t.status, "deleted"),
  );
}

const leaseEnd = (claim: ProcessingClaim, at: Date) => new Date(at.getTime() + claim.leaseMs);

/** The queue columns of a job queued at `at`, claimed right away when the request says so. */
export function queuedValues(request: ProcessingRequest, at: Date) {
  const { claim } = request;
  return {
    processingStatus: claim ? ("processing" as const) : ("pending" as const),
    processingError: null,
    processingAttempts: claim ? 1 : 0,
    processingDueAt: at,
    processingLockedBy: claim ? claim.workerId : null,
    processingLockedUntil: claim ? leaseEnd(claim, at) : null,
    processingWebpQuality: request.webpQuality,
  };
}

/** The queue columns of jobs claimProcessing takes (attempts counted up in SQL). */
export function claimedValues(t: ProcessingColumns, claim: ProcessingClaim, now: Date) {
  return {
    processingStatus: "processing" as const,
    processingAttempts: sql`${t.processingAttempts} + 1`,
    processingLockedBy: claim.workerId,
    processingLockedUntil: leaseEnd(claim, now),
  };
}

/**
 * What markDeleted sets besides status and deletedAt: the hash is free for the
 * owner's next upload, and processing that had not finished is cancelled.
 */
export function deletedValues(t: ProcessingColumns) {
  return {
    dedupSha256: null,
    processingStatus: sql`CASE WHEN ${inArray(t.processingStatus, ["pending", "processing"])} THEN 'cancelled' ELSE ${t.processingStatus} END`,
    processingDueAt: null,
    processingLockedBy: null,
    processingLockedUntil: null,
  };
}

/** A finished job's columns, except the dedup key (which the dialects set their own way). */
export function completedValues(result: ProcessingResult) {
  return {
    sha256: result.sha256,
    width: result.width,
    height: result.height,
    blurhash: result.blurhash,
    processingStatus: "completed" as const,
    processingError: null,
    processingDueAt: null,
    processingLockedBy: null,
    processingLockedUntil: null,
  };
}

// Fits processing_error (varchar(1000) on MySQL, whose length counts code points).
const maxErrorLength = 1000;

/** An attempt's end: pending again and due at `retryAt`, or failed for good. */
export function failedValues(error: string, retryAt: Date | null) {
  const codePoints = [...error];
  return {
    processingStatus: retryAt ? ("pending" as const) : ("failed" as const),
    processingError: codePoints.length > maxErrorLength ? codePoints.slice(0, maxErrorLength).join("") : error,
    processingDueAt: retryAt,
    processingLockedBy: null,
    processingLockedUntil: null,
  };
}

/** Rows of file_variants for one file. */
export function variantRows(fileId: string, variants: readonly VariantRecord[]) {
  return variants.map(({ name, width, height, contentType, sizeBytes, objectKey }) => ({
    fileId,
    name,
    width,
    height,
    contentType,
    sizeBytes,
    objectKey,
  }));
}

/**
 * Records with their variants, from the variant rows of all of them (read with
 * one query, ordered by name): each record gets its own, in that order.
 */
export function withVariants(
  records: ReadonlyArray<Omit<FileRecord, "variants">>,
  rows: ReadonlyArray<VariantRecord & { fileId: string }>,
): FileRecord[] {
  const byFile = new Map<string, VariantRecord[]>();
  for (const { fileId, name, width, height, contentType, sizeBytes, objectKey } of rows) {
    let variants = byFile.get(fileId);
    if (!variants) byFile.set(fileId, (variants = []));
    variants.push({ name, width, height, contentType, sizeBytes, objectKey });
  }
  return records.map((record) => ({ ...record, variants: byFile.get(record.id) ?? [] }));
}

/** GROUP BY rows → every status, 0 where a status has no rows (and so no group). */
export function countsByStatus(rows: ReadonlyArray<{ status: FileStatus; count: number }>): Record<FileStatus, number> {
  const counts = Object.fromEntries(FILE_STATUSES.map((s) => [s, 0])) as Record<FileStatus, number>;
  for (const row of rows) counts[row.status] = row.count;
  return counts;
}
