// The outbox's nouns. A side effect of a state change (remove the bytes of a
// deleted file, tell the world a file was processed) is written as a task in
// the same transaction as the change, so no crash can separate the two; a
// worker on any instance runs it later, retrying until it succeeds or runs out
// of attempts (then it stays, failed, for an operator to see and re-queue).
//
// Processing and expiry have their queues on the file row itself (its
// processing_* and expire_due_at columns, set by the same UPDATE that changes
// the status); the tasks table carries what outlives or fans out from a row.

export const TASK_KINDS = [
  /** Remove a deleted or expired file's objects (original and variants). */
  "purge",
  /** Turn a state change into one `deliver` task per event sink. */
  "publish",
  /** Deliver one event to one sink (payload: the sink and the event). */
  "deliver",
  /** Move a quarantined file's objects out of the served space. */
  "quarantine",
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const TASK_STATUSES = ["queued", "running", "failed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The event types a state change publishes, as FileEventType's names in lower case. */
export const EVENT_TYPES = ["uploaded", "processed", "processing_failed", "deleted", "expired", "quarantined", "missing"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface NewTask {
  kind: TaskKind;
  fileId: string | null;
  ownerId: string | null;
  /** JSON, the kind's own shape. */
  payload: string | null;
  /** Tasks with the same key run one at a time, in creation order; a failed one no longer holds the others. */
  orderKey: string | null;
  dueAt: Date;
}

export interface Task extends NewTask {
  id: number;
  status: TaskStatus;
  /** Claims so far, this one included. */
  attempts: number;
  lastError: string | null;
  createdAt: Date;
}

/** What a `publish` task carries: the change, as it happened. */
export interface PublishPayload {
  eventId: string;
  type: EventType;
  /** Epoch milliseconds. */
  occurredAt: number;
}

export interface TaskStats {
  /** Tasks per kind and status. */
  counts: Array<{ kind: string; status: TaskStatus; count: number }>;
  /** Age in ms of the oldest queued task that is due, 0 when none is. */
  oldestDueMs: number;
  /** Age in ms of the oldest queued publish/deliver task (the outbox lag), 0 when none. */
  oldestEventMs: number;
}
