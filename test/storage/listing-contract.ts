// ObjectStore.list as both stores must answer it (run by the local and S3
// store tests): pages of at most `limit`, in key order, that together hold
// every object under the prefix once and nothing else.
import { createHash, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ListedObject, ObjectStore } from "../../src/storage/object-store.js";

async function listAll(store: ObjectStore, prefix: string, limit: number): Promise<{ objects: ListedObject[]; pages: number }> {
  const objects: ListedObject[] = [];
  let pages = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list({ prefix, cursor, limit });
    expect(page.objects.length).toBeLessThanOrEqual(limit);
    objects.push(...page.objects);
    cursor = page.cursor;
    pages++;
  } while (cursor !== undefined && pages < 100);
  return { objects, pages };
}

export function describeListing(name: string, open: () => Promise<ObjectStore>): void {
  describe(`${name}: list`, () => {
    it("pages through every object under the prefix once, in key order, with its size and time", async () => {
      const store = await open();
      // A prefix of this test's own, so other tests' objects stay out of it.
      const root = `files-${randomUUID()}/`;
      const ids = Array.from({ length: 4 }, () => randomUUID()).sort();
      const keys = ids.flatMap((id) => [`${root}${id}/original`, `${root}${id}/thumb`]).sort();
      const before = Date.now() - 5_000;
      for (const [i, key] of keys.entries()) {
        const body = Buffer.alloc(i + 1, i);
        await store.put({ key, body, contentType: "application/octet-stream", contentLength: body.length, md5: createHash("md5").update(body).digest("base64") });
      }
      const elsewhere = `quarantine-${randomUUID()}/x/original`;
      await store.put({ key: elsewhere, body: Buffer.from("q"), contentType: "text/plain", contentLength: 1, md5: createHash("md5").update("q").digest("base64") });

      const { objects, pages } = await listAll(store, root, 3);
      expect(pages).toBe(3);
      expect(objects.map((o) => o.key)).toEqual(keys);
      expect(objects.map((o) => o.size)).toEqual(keys.map((_, i) => i + 1));
      for (const o of objects) expect(o.lastModified.getTime()).toBeGreaterThan(before);

      // One page when it fits; nothing under a prefix with no objects.
      expect((await store.list({ prefix: root, limit: 100 })).cursor).toBeUndefined();
      expect(await store.list({ prefix: `files-${randomUUID()}/`, limit: 10 })).toEqual({ objects: [] });

      // Removed objects leave the listing.
      await store.delete(keys.slice(0, 4));
      expect((await listAll(store, root, 2)).objects.map((o) => o.key)).toEqual(keys.slice(4));
      await store.delete([...keys, elsewhere]);
    });
  });
}
