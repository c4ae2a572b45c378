// The MySQL/MariaDB table behind FileRepository. Change it only together with a
// generated migration (npm run generate:migrations); CI runs
// scripts/check-migrations.sh to catch a schema change without one.
import { bigint, customType, datetime, index, mysqlEnum, mysqlTable } from "drizzle-orm/mysql-core";
import type { FileRecord, FileStatus } from "../file-repository.js";

// drizzle's mysql-core cannot set a column charset, so these spell it out: the
// result must not depend on the server's or database's defaults, and every
// comparison is binary. A case- or accent-insensitive collation (the servers'
// default) would let owner "Alice" match "alice", and would order ids in a way
// that disagrees with JavaScript's string order used for keyset cursors.
const asciiChar = customType<{ data: string; driverData: string; config: { length: number }; configRequired: true }>({
  dataType: ({ length }) => `char(${length}) CHARACTER SET ascii COLLATE ascii_bin`,
});
const utf8Varchar = customType<{ data: string; driverData: string; config: { length: number }; configRequired: true }>({
  dataType: ({ length }) => `varchar(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
});

export const fileStatuses = ["pending", "uploaded", "deleted"] as const satisfies readonly FileStatus[];

// datetime mode "date" is UTC both ways whatever the process TZ: drizzle writes
// Date#toISOString() digits and its mysql2 session reads DATETIME as a string
// that it parses with a "Z" suffix. fsp 3 keeps the milliseconds of a JS Date.
const timestamp = (name: string) => datetime(name, { mode: "date", fsp: 3 });

export const files = mysqlTable(
  "files",
  {
    // UUIDv7 as text: its lexical order is creation order, so "ORDER BY id DESC" is newest first.
    id: asciiChar("id", { length: 36 }).primaryKey(),
    ownerId: utf8Varchar("owner_id", { length: 255 }).notNull(),
    filename: utf8Varchar("filename", { length: 255 }).notNull(),
    contentType: utf8Varchar("content_type", { length: 100 }).notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number", unsigned: true }).notNull(),
    md5: asciiChar("md5", { length: 24 }).notNull(),
    status: mysqlEnum("status", fileStatuses).notNull(),
    objectKey: utf8Varchar("object_key", { length: 512 }).notNull(),
    createdAt: timestamp("created_at").notNull(),
    uploadedAt: timestamp("uploaded_at"),
    deletedAt: timestamp("deleted_at"),
  },
  (t) => [
    // Serves list(): owner's rows walked backwards by id, status filtered on the way.
    index("files_owner_id_id_idx").on(t.ownerId, t.id),
  ],
);

// Compile-time guard: a row must be a FileRecord, so the schema and the
// interface cannot drift apart silently.
type Assert<T extends true> = T;
export type RowIsFileRecord = Assert<typeof files.$inferSelect extends FileRecord ? true : false>;
