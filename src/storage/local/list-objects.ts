// The local store's listing: the folders under a prefix walked in name order,
// one page at a time. The cursor is the last key handed out; the next page
// walks again from there, skipping every folder that sorts before it, so no
// page holds more than its own objects (and one folder's names).
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ListedObject, ObjectPage } from "../object-store.js";
import { errorCode, unavailable } from "./disk-objects.js";

export async function listObjects(root: string, input: { prefix: string; cursor?: string; limit: number }): Promise<ObjectPage> {
  const { prefix, cursor, limit } = input;
  if (prefix !== "" && !prefix.endsWith("/")) throw new Error(`list prefix must end with "/": ${prefix}`);
  if (cursor !== undefined && !cursor.startsWith(prefix)) throw new Error("list cursor does not belong to this prefix");
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error("list limit must be a whole number above 0");
  const segments = prefix.split("/").filter(Boolean);
  const objects: ListedObject[] = [];
  try {
    for await (const object of walk(join(root, ...segments), segments, cursor?.split("/"))) {
      if (objects.length === limit) return { objects, cursor: objects.at(-1)!.key };
      objects.push(object);
    }
  } catch (error) {
    throw unavailable(error);
  }
  return { objects };
}

/** The objects below `dir` (whose key segments are `segments`), in order, after the key `after`. */
async function* walk(dir: string, segments: string[], after: string[] | undefined): AsyncGenerator<ListedObject> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return; // nothing under this prefix
    throw error;
  }
  const depth = segments.length;
  // Only while this folder lies on the cursor's path does the cursor bound its names.
  const onCursorPath = after !== undefined && after.length > depth && segments.every((s, i) => s === after[i]);
  const bound = onCursorPath ? after[depth]! : undefined;
  // Names starting with "." are the store's own (metadata, uploads in progress).
  const names = entries.filter((e) => !e.name.startsWith(".") && (bound === undefined || e.name >= bound));
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of names) {
    const path = [...segments, entry.name];
    if (entry.isDirectory()) {
      yield* walk(join(dir, entry.name), path, onCursorPath ? after : undefined);
    } else if (entry.isFile() && !(onCursorPath && entry.name === bound)) {
      const stats = await stat(join(dir, entry.name)).catch(() => null);
      if (stats !== null) yield { key: path.join("/"), size: stats.size, lastModified: stats.mtime };
    }
  }
}
