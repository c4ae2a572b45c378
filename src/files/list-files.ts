// ListFiles: an owner's files, newest first, a page at a time. Keyset pages
// (by id, UUIDv7 = creation order) behind an opaque token bound to the filter.
import type { FileRecord, FileStatus } from "../domain/file.js";
import { FileError } from "../domain/errors.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { UseCaseDeps } from "./use-case-deps.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
/** Without a status filter, deleted files are left out. */
const LISTED_BY_DEFAULT: readonly FileStatus[] = ["pending", "uploaded"];

export interface ListRequest {
  /** 0 for the default. */
  pageSize: number;
  pageToken: string;
  /** One status to list, or every status but deleted; `name` binds the page token to it. */
  status?: { status: FileStatus; name: string };
}

export async function listFiles(
  deps: Pick<UseCaseDeps, "files">,
  ownerId: string,
  request: ListRequest,
): Promise<{ files: FileRecord[]; nextPageToken: string }> {
  const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
  if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new FileError("invalid_argument", `page_size: must be from 1 to ${MAX_PAGE_SIZE}, or 0 for ${DEFAULT_PAGE_SIZE}`);
  }
  const statuses = request.status === undefined ? LISTED_BY_DEFAULT : [request.status.status];
  const filter = request.status?.name ?? "";
  const beforeId = decodePageToken(request.pageToken, filter);
  // One extra row tells whether another page exists.
  const rows = await deps.files.list({ ownerId, statuses, beforeId, limit: pageSize + 1 });
  const page = rows.slice(0, pageSize);
  const last = page.at(-1);
  return { files: page, nextPageToken: rows.length > pageSize && last ? encodePageToken({ after: last.id, filter }) : "" };
}
