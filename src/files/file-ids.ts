// File ids are UUIDv7: time-ordered, so new rows append to the primary key
// index instead of splitting random pages, and ids sort by creation time.
import { FileError } from "../domain/errors.js";
import { v7 as uuidv7 } from "uuid";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newFileId(): string {
  return uuidv7();
}

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
