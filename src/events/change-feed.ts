// What WatchFiles streams listen to: the changes this instance learns of, from
// the broker (every instance's, with RabbitMQ) or from its own outbox (embedded
// mode, one instance). A plain fan-out in memory; each watcher filters.
import type { FileEvent } from "./file-event.js";

export type FeedListener = (event: FileEvent) => void;

export interface ChangeFeed {
  publish(event: FileEvent): void;
  /** Calls `listener` with every event published from now on; returns the unsubscribe. */
  subscribe(listener: FeedListener): () => void;
  /** Watchers connected now (for metrics and tests). */
  readonly size: number;
}

export function createChangeFeed(onListenerError: (error: unknown) => void = () => {}): ChangeFeed {
  const listeners = new Set<FeedListener>();
  return {
    publish(event) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (error) {
          // One broken watcher must not keep the event from the others.
          onListenerError(error);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}
