// Events from the outbox. A state change queued a `publish` task (its event id,
// type and time) in its own transaction; that task becomes one `deliver` task
// per sink, so a slow or failing sink never holds up another, and each sink
// gets a file's events in order (order key per sink and file). The File in an
// event is the file as it was when the publish task ran, normally within
// moments of the change: the type and time say what happened, the File what it
// looked like just after.
import { createHash } from "node:crypto";
import type { FileRepository } from "../domain/file-repository.js";
import type { EventType, NewTask, PublishPayload, Task } from "../domain/task.js";
import { decodeEvent, encodeEvent, FileEventType } from "../events/file-event.js";
import type { EventSink } from "../events/event-sink.js";
import { toFileEvent } from "../files/file-message.js";
import { PermanentTaskError, type TaskHandler } from "./task-worker.js";

const EVENT_TYPE: Record<EventType, FileEventType> = {
  uploaded: FileEventType.UPLOADED,
  processed: FileEventType.PROCESSED,
  processing_failed: FileEventType.PROCESSING_FAILED,
  deleted: FileEventType.DELETED,
  expired: FileEventType.EXPIRED,
  quarantined: FileEventType.QUARANTINED,
  missing: FileEventType.MISSING,
};

interface DeliverPayload {
  sink: string;
  /** The FileEvent, protobuf binary in base64. */
  event: string;
}

/** A short, stable tag for a sink in order keys (its name may be a long URL). */
const sinkTag = (name: string) => createHash("sha256").update(name).digest("hex").slice(0, 16);

function parse<T>(task: Task): T {
  try {
    return JSON.parse(task.payload ?? "") as T;
  } catch {
    throw new PermanentTaskError(`task ${task.id} has no readable payload`);
  }
}

export function publishEvents(deps: { files: Pick<FileRepository, "findByIds">; sinks: readonly EventSink[] }): TaskHandler {
  return {
    async run(task) {
      const { eventId, type, occurredAt } = parse<PublishPayload>(task);
      if (task.fileId === null || task.ownerId === null) throw new PermanentTaskError("a publish task names no file");
      const [record] = await deps.files.findByIds(task.ownerId, [task.fileId]);
      if (record === undefined) throw new PermanentTaskError(`file ${task.fileId} is gone`);
      const message = toFileEvent(EVENT_TYPE[type], record, eventId, new Date(occurredAt));
      // In-process sinks take it now (they cannot fail); the others get a delivery task each.
      for (const sink of deps.sinks) if (sink.inline) await sink.deliver(message);
      const event = encodeEvent(message);
      const dueAt = new Date();
      return deps.sinks.filter((sink) => !sink.inline).map(
        (sink): NewTask => ({
          kind: "deliver",
          fileId: task.fileId,
          ownerId: task.ownerId,
          payload: JSON.stringify({ sink: sink.name, event: Buffer.from(event).toString("base64") } satisfies DeliverPayload),
          orderKey: `deliver:${sinkTag(sink.name)}:${task.fileId}`,
          dueAt,
        }),
      );
    },
    maxAttempts: () => Number.POSITIVE_INFINITY,
  };
}

export function deliverEvents(deps: {
  sinks: readonly EventSink[];
  onDelivered?: (sink: string) => void;
  onGivenUp?: (sink: string) => void;
}): TaskHandler {
  const byName = new Map(deps.sinks.map((s) => [s.name, s]));
  return {
    async run(task) {
      const { sink, event } = parse<DeliverPayload>(task);
      const target = byName.get(sink);
      // A sink no longer configured: nobody is waiting for it.
      if (target === undefined) return;
      await target.deliver(decodeEvent(Buffer.from(event, "base64")));
      deps.onDelivered?.(sink);
    },
    maxAttempts: (task) => byName.get(parse<DeliverPayload>(task).sink)?.maxAttempts ?? Number.POSITIVE_INFINITY,
    onGiveUp: (task) => deps.onGivenUp?.(parse<DeliverPayload>(task).sink),
  };
}
