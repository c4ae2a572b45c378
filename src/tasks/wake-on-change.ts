// A repository that wakes this instance's outbox worker after every state
// change, so its tasks (an event for a watcher, a purge) run at once rather than
// at the next poll; other instances find them at their next poll.
import type { FileRepository } from "../domain/file-repository.js";
import { wrapMethods } from "../shared/wrap-methods.js";

// The methods that queue tasks (see FileRepository's state changes).
const CHANGES = new Set<string>(["markUploaded", "markDeleted", "insertUploaded", "completeProcessing", "failProcessing"]);

export function wakeOnChange(repo: FileRepository, wake: () => void): FileRepository {
  return wrapMethods(repo, (name, original) => {
    if (!CHANGES.has(name)) return original;
    return async (...args: unknown[]) => {
      const result = await original(...args);
      wake();
      return result;
    };
  });
}
