// The SQLite/libSQL table behind FileRepository (embedded mode): the same columns
// and meaning as src/db/mysql/schema.ts. Change it only together with a generated
// migration (npx drizzle-kit generate --config drizzle.sqlite.config.ts); CI runs
// scripts/check-migrations.sh to catch a schema change without one.
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { FileRecord, FileStatus } from "../file-repository.js";

// Not shared with the MySQL schema, so embedded mode never loads mysql-core.
const fileStatuses = ["pending", "uploaded", "deleted"] as const satisfies readonly FileStatus[];

// Milliseconds since the epoch in an INTEGER: exact round-trip of a JS Date, no
// time zone or text format involved.
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

// SQLite's default BINARY collation already compares and orders text bytewise,
// which is what owner scoping and the id keyset cursor need (see the MySQL schema).
export const files = sqliteTable(
  "files",
  {
    // UUIDv7 as text: its lexical order is creation order, so "ORDER BY id DESC" is newest first.
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes", { mode: "number" }).notNull(),
    md5: text("md5").notNull(),
    status: text("status", { enum: fileStatuses }).notNull(),
    objectKey: text("object_key").notNull(),
    createdAt: timestamp("created_at").notNull(),
    uploadedAt: timestamp("uploaded_at"),
    deletedAt: timestamp("deleted_at"),
  },
  (t) => [
    // Serves list(): owner's rows walked backwards by id, status filtered on the way.
    index("files_owner_id_id_idx").on(t.ownerId, t.id),
    // `enum` above is only a TypeScript type; SQLite has no ENUM, so the database
    // enforces the values itself, as MySQL's ENUM does.
    // Unqualified column names: drizzle-kit copies checks verbatim when it rebuilds
    // a table under a temporary name, where "files"."status" would not resolve.
    check(
      "files_status_check",
      sql`${sql.identifier(t.status.name)} IN (${sql.raw(fileStatuses.map((s) => `'${s}'`).join(", "))})`,
    ),
    // Stands in for MySQL's UNSIGNED.
    check("files_size_bytes_check", sql`${sql.identifier(t.sizeBytes.name)} >= 0`),
  ],
);

// Compile-time guard: a row must be a FileRecord, so the schema and the
// interface cannot drift apart silently.
type Assert<T extends true> = T;
export type StatusesAreComplete = Assert<FileStatus extends (typeof fileStatuses)[number] ? true : false>;
export type RowIsFileRecord = Assert<typeof files.$inferSelect extends FileRecord ? true : false>;
