// The quarantine task: moves every object of a file the malware scan found
// infected out of the served space (quarantine/<id>/..., or QUARANTINE_BUCKET
// on S3), kept for whoever investigates. Queued with the change that
// quarantined the file; until it has run the row already refuses every URL.
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import { quarantineKeyFor } from "../storage/object-keys.js";
import type { TaskHandler } from "./task-worker.js";

export function quarantineObjects(deps: {
  files: Pick<FileRepository, "storedObjects">;
  objects: Pick<ObjectStore, "move">;
  bucket?: string;
  onQuarantined?: () => void;
}): TaskHandler {
  return {
    async run(task) {
      if (task.fileId === null) return;
      const stored = await deps.files.storedObjects(task.fileId);
      if (stored === undefined || stored.status !== "quarantined") return;
      // A key already moved (a retry) is simply absent: move answers false.
      for (const key of stored.keys) await deps.objects.move(key, { key: quarantineKeyFor(key), bucket: deps.bucket });
      deps.onQuarantined?.();
    },
    maxAttempts: () => Number.POSITIVE_INFINITY,
  };
}
