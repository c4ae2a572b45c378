// Where an event is delivered: the broker, a webhook endpoint. The outbox hands
// each event to each sink and retries with backoff until the sink has it.

import type { FileEvent } from "./file-event.js";

export interface EventSink {
  /** Names the sink in metrics, logs and the outbox ("rabbitmq", "webhook:https://..."). */
  readonly name: string;
  /**
   * Resolves once the sink has durably accepted the event (the broker's
   * publisher confirm, the endpoint's 2xx); throws otherwise, quickly when the
   * sink is known to be down, so the outbox retries later.
   */
  deliver(event: FileEvent, signal?: AbortSignal): Promise<void>;
  /** Deliveries tried before an event is given up for this sink; unbounded when absent (the broker: events wait for it). */
  readonly maxAttempts?: number;
  /** An in-process sink that cannot fail (this instance's watchers): handed events at publish time, no delivery task of its own. */
  readonly inline?: boolean;
}
