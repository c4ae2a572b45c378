// A FileEvent as every sink carries it (the contract's message, built from a
// record by files/file-message.ts): its routing key on the broker
// (`file.<type>` in lower case, e.g. file.processed) and the protobuf binary
// and JSON forms sinks send.
import { fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { FileEventSchema, FileEventType, type FileEvent } from "../../gen/file/v1/file_service_pb.js";

export type { FileEvent };
export { FileEventType };

/** "file.processed" for FILE_EVENT_TYPE_PROCESSED: the type's name after FILE_EVENT_TYPE_, lower case. */
export function routingKeyFor(type: FileEventType): string {
  const name = FileEventType[type];
  if (name === undefined || type === FileEventType.UNSPECIFIED) throw new Error(`no routing key for event type ${type}`);
  return `file.${name.toLowerCase()}`;
}

export const encodeEvent = (event: FileEvent): Uint8Array => toBinary(FileEventSchema, event);
export const decodeEvent = (bytes: Uint8Array): FileEvent => fromBinary(FileEventSchema, bytes);
/** The protobuf JSON form (camelCase fields, enum names), as webhooks POST it. */
export const eventJson = (event: FileEvent): string => toJsonString(FileEventSchema, event);
