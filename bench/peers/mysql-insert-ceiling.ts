// The ceiling for scenario 2, in its own process: raw mysql2 doing what
// GenerateUploadURLs of 10 files must do in the database — BEGIN; one 10-row
// INSERT of pending files (the service's row shape); COMMIT — with a pool of
// 16 and N transactions in flight. Prints one JSON line like the gRPC load
// generator's (calls/s, p50/p99, client CPU per transaction).
//
// Input: the JSON of CeilingSpec in CEILING_SPEC.
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { v7 as uuidv7 } from "uuid";
import { closedLoop } from "../load/closed-loop.js";

export interface CeilingSpec {
  databaseUrl: string;
  inFlight: number;
  durationMs: number;
  warmupMs: number;
  rowsPerTransaction: number;
  /** "execute": a prepared statement (binary protocol); "query": the text protocol. */
  protocol?: "execute" | "query";
}

const spec = JSON.parse(process.env.CEILING_SPEC ?? "{}") as CeilingSpec;
const pool = mysql.createPool({ uri: spec.databaseUrl, connectionLimit: 16, timezone: "Z", enableKeepAlive: true });
const COLUMNS = ["id", "owner_id", "filename", "content_type", "size_bytes", "md5", "status", "object_key", "created_at", "purpose"];
const ROW = `(${COLUMNS.map(() => "?").join(", ")})`;
const SQL = `INSERT INTO files (${COLUMNS.join(", ")}) VALUES ${Array.from({ length: spec.rowsPerTransaction }, () => ROW).join(", ")}`;
const md5 = randomBytes(16).toString("base64");

async function one(): Promise<void> {
  const createdAt = new Date();
  const params: mysql.ExecuteValues[] = [];
  for (let i = 0; i < spec.rowsPerTransaction; i++) {
    const id = uuidv7();
    params.push(id, "bench-owner", `photo-${i}.jpg`, "image/jpeg", 123_456, md5, "pending", `files/${id}/original`, createdAt, "post_attachment");
  }
  const conn = await pool.getConnection();
  try {
    await conn.query("BEGIN");
    if (spec.protocol === "query") await conn.query(SQL, params);
    else await conn.execute(SQL, params);
    await conn.query("COMMIT");
  } catch (e) {
    await conn.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    conn.release();
  }
}

const result = await closedLoop(one, spec);
process.stdout.write(`${JSON.stringify(result)}\n`);
await pool.end();
