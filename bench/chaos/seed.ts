// Known damage planted by hand, to prove the audit can fail: one object with no
// row, and one uploaded file whose processing was never queued.
import { randomUUID } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import mysql from "mysql2/promise";
import type { AuditTarget } from "./audit.js";

export interface Seeded {
  orphanKey: string;
  unqueuedId: string;
}

export async function seedDamage(target: AuditTarget): Promise<Seeded> {
  const orphanKey = `files/${randomUUID()}/original`;
  const unqueuedId = randomUUID();
  const s3 = new S3Client({ endpoint: target.s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  try {
    await s3.send(new PutObjectCommand({ Bucket: target.s3.bucket, Key: orphanKey, Body: Buffer.from("stray bytes"), ContentType: "image/png" }));
  } finally {
    s3.destroy();
  }
  const db = await mysql.createConnection({ uri: target.databaseUrl, timezone: "Z" });
  try {
    // Uploaded, processing pending, no due time: what a kill between two statements left before the outbox.
    await db.query(
      `INSERT INTO files (id, owner_id, filename, content_type, size_bytes, md5, status, object_key, created_at, uploaded_at, processing_status)
       VALUES (?, 'chaos-seed', 'seed.png', 'image/png', 11, 'AAAAAAAAAAAAAAAAAAAAAA==', 'uploaded', ?, ?, ?, 'pending')`,
      [unqueuedId, `files/${unqueuedId}/original`, new Date(), new Date()],
    );
  } finally {
    await db.end();
  }
  return { orphanKey, unqueuedId };
}
