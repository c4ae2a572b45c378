// The purge task: removes every object of a deleted or expired file (original
// and variants). Queued with the change that made the bytes unwanted, so a
// store that is down only delays it: it is retried until the store answers.
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { TaskHandler } from "./task-worker.js";
import { variantKeyFor } from "../storage/object-keys.js";
import { VARIANT_NAMES } from "../media/variant-specs.js";

const PURGEABLE = new Set(["deleted", "expired"]);

export function purgeObjects(deps: {
  files: Pick<FileRepository, "storedObjects">;
  objects: Pick<ObjectStore, "delete">;
  onPurged?: (count: number) => void;
}): TaskHandler {
  return {
    async run(task) {
      if (task.fileId === null) return;
      const stored = await deps.files.storedObjects(task.fileId);
      // Gone, or brought back to a served state: nothing to remove.
      if (stored === undefined || !PURGEABLE.has(stored.status)) return;
      // Every variant a file could have, too: a process killed while it made a
      // file's variants (an upload through the service) stored some it never recorded.
      const keys = [...new Set([...stored.keys, ...VARIANT_NAMES.map((name) => variantKeyFor(task.fileId!, name))])];
      const failed = await deps.objects.delete(keys);
      if (failed.length > 0) throw new Error(`${failed.length} of ${keys.length} objects could not be removed yet`);
      deps.onPurged?.(stored.keys.length);
    },
    maxAttempts: () => Number.POSITIVE_INFINITY,
  };
}
