// File ids are UUIDv7: time-ordered, so new rows append to the primary key
// index instead of splitting random pages, and ids sort by creation time.
import { randomFillSync } from "node:crypto";
import { FileError } from "../domain/errors.js";
import { v7 as uuidv7 } from "uuid";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * uuid's v7 with its random bytes drawn from a pool: uuid asks the system for 16
 * bytes per id (crypto.getRandomValues, about 1 µs each; GenerateUploadURLs makes
 * ten per call), here one randomFillSync per 256 ids. uuid keeps its ordering
 * state only when it draws the bytes itself, so the same state (as uuid's
 * updateV7State: a random 31-bit sequence per millisecond, incremented within it,
 * carried into the next millisecond on overflow) is kept here and passed in.
 */
export function newFileId(): string {
  if (poolOffset === POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const random = pool.subarray(poolOffset, (poolOffset += 16));
  const now = Date.now();
  if (now > state.msecs) {
    state.msecs = now;
    state.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return uuidv7({ random, msecs: state.msecs, seq: state.seq });
}

const POOL_BYTES = 16 * 256;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;
const state = { msecs: -Infinity, seq: 0 };

/** Validates one id (any UUID form, case-insensitive) and returns it in canonical lower case. */
export function parseFileId(value: string, field: string): string {
  const id = value.trim().toLowerCase();
  if (!UUID.test(id)) {
    throw new FileError("invalid_argument", `${field}: ${JSON.stringify(value)} is not a file id (a UUID)`);
  }
  return id;
}

/** Validates a list of ids: 1 to `max`, each a UUID; duplicates are dropped, order kept. */
export function parseFileIds(values: readonly string[], field: string, max: number): string[] {
  if (values.length === 0) {
    throw new FileError("invalid_argument", `${field}: at least one id is required`);
  }
  if (values.length > max) {
    throw new FileError("invalid_argument", `${field}: at most ${max} ids per call (got ${values.length})`);
  }
  return [...new Set(values.map((v, i) => parseFileId(v, `${field}[${i}]`)))];
}
