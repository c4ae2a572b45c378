// The GetFile lookup of the peers (bench/peers/*-get-file.ts): the service's
// owner-scoped lookup (src/db/mysql/mysql-file-repository.ts, findByIds) done
// with mysql2 directly — the file and its variants in one round trip, one row
// per variant, a prepared statement.
import mysql from "mysql2/promise";
import type { FileRecord, VariantRecord } from "../../src/domain/file.js";

const FILE_SQL =
  "SELECT f.id, f.owner_id, f.filename, f.content_type, f.size_bytes, f.md5, f.status, f.object_key, f.created_at, " +
  "f.uploaded_at, f.deleted_at, f.purpose, f.sha256, f.width, f.height, f.blurhash, f.processing_status, f.processing_error, " +
  "f.scan_status, f.scan_signature, f.scan_error, f.scanned_at, f.upload_expires_at, " +
  "v.name, v.width, v.height, v.content_type, v.size_bytes, v.object_key " +
  "FROM files f LEFT JOIN file_variants v ON v.file_id = f.id WHERE f.owner_id = ? AND f.id = ? ORDER BY v.name";

export function createLookup(databaseUrl: string) {
  // trace: false: no stack captured per query (as the service's pool).
  const pool = mysql.createPool({ uri: databaseUrl, connectionLimit: 16, timezone: "Z", enableKeepAlive: true, trace: false });
  return {
    async findOne(ownerId: string, id: string): Promise<FileRecord | undefined> {
      const [result] = await pool.execute<mysql.RowDataPacket[][]>({ sql: FILE_SQL, rowsAsArray: true }, [ownerId, id]);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const rows = result as any[][];
      const r = rows[0];
      if (r === undefined) return undefined;
      const variants: VariantRecord[] = [];
      for (const v of rows) {
        if (v[23] !== null) {
          variants.push({ name: v[23], width: v[24], height: v[25], contentType: v[26], sizeBytes: Number(v[27]), objectKey: v[28] });
        }
      }
      return {
        id: r[0],
        ownerId: r[1],
        filename: r[2],
        contentType: r[3],
        sizeBytes: Number(r[4]),
        md5: r[5],
        status: r[6],
        objectKey: r[7],
        createdAt: r[8],
        uploadedAt: r[9],
        deletedAt: r[10],
        purpose: r[11],
        sha256: r[12],
        width: r[13],
        height: r[14],
        blurhash: r[15],
        processingStatus: r[16],
        processingError: r[17],
        scanStatus: r[18],
        scanSignature: r[19],
        scanError: r[20],
        scannedAt: r[21],
        uploadExpiresAt: r[22],
        variants,
      };
    },
    close: () => pool.end(),
  };
}
