// The persistence contract for file records. The service logic depends on this
// interface only; MySQL (production) and SQLite/libSQL (embedded) implement it.
//
// Every read and write is scoped by owner: a row of another owner is invisible,
// so callers cannot tell "foreign" from "missing".
//
// Implementations throw DependencyUnavailableError when the database cannot be
// reached, and let programming errors through unchanged.

export type FileStatus = "pending" | "uploaded" | "deleted";

export interface FileRecord {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  /** Base64 of the 16-byte MD5, as HTTP Content-MD5 carries it. */
  md5: string;
  status: FileStatus;
  objectKey: string;
  createdAt: Date;
  uploadedAt: Date | null;
  deletedAt: Date | null;
}

export type NewFileRecord = Pick<
  FileRecord,
  "id" | "ownerId" | "filename" | "contentType" | "sizeBytes" | "md5" | "objectKey" | "createdAt"
>;

export interface ListFilesQuery {
  ownerId: string;
  /** Statuses to include. */
  statuses: readonly FileStatus[];
  /** Keyset cursor: only ids strictly below this one (newest first). */
  beforeId?: string;
  limit: number;
}

export interface FileRepository {
  /** Inserts all records as `pending` in one transaction: all or nothing. */
  insertPending(records: readonly NewFileRecord[]): Promise<void>;
  /** The owner's records among `ids`, in no particular order; unknown or foreign ids are absent. */
  findByIds(ownerId: string, ids: readonly string[]): Promise<FileRecord[]>;
  /** Moves the owner's `pending` records among `ids` to `uploaded`. Returns how many moved. */
  markUploaded(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /** Moves the owner's not-yet-deleted records among `ids` to `deleted`. Returns how many moved. */
  markDeleted(ownerId: string, ids: readonly string[], at: Date): Promise<number>;
  /** The owner's records with the given statuses, newest (highest id) first. */
  list(query: ListFilesQuery): Promise<FileRecord[]>;
  /** How many records are in each status, for the files-by-state metric. */
  countByStatus(): Promise<Record<FileStatus, number>>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
