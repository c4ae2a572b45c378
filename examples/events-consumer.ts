// A backend that follows what happens to files: its own durable queue bound to
// the file service's exchange, each message decoded as a file.v1.FileEvent.
// Delivery is at least once: the event id is the dedup key (here, a set; in a
// real service, a unique key in its own database).
//
//   RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672 npx tsx examples/events-consumer.ts
import { connect } from "amqplib";
import { fromBinary } from "@bufbuild/protobuf";
import { FileEventSchema, FileEventType, FileStatus } from "../gen/file/v1/file_service_pb.js";

const url = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const exchange = process.env.RABBITMQ_EXCHANGE ?? "file.events";
const queue = process.env.QUEUE ?? "hangout.file-events";

const connection = await connect(url);
const channel = await connection.createChannel();
await channel.assertExchange(exchange, "topic", { durable: true });
await channel.assertQueue(queue, { durable: true });
// Everything; a consumer that only cares about finished images would bind "file.processed".
await channel.bindQueue(queue, exchange, "file.#");
await channel.prefetch(50);

const seen = new Set<string>();
await channel.consume(queue, (message) => {
  if (message === null) return;
  const event = fromBinary(FileEventSchema, message.content);
  if (!seen.has(event.eventId)) {
    seen.add(event.eventId);
    console.log(
      [message.fields.routingKey, event.fileId, FileEventType[event.type], FileStatus[event.file?.status ?? 0], event.file?.variants.map((v) => v.name).join(",") ?? ""].join(" "),
    );
  }
  // Acknowledge once handled: an unacknowledged message comes back after a crash.
  channel.ack(message);
});
console.log(`consuming ${exchange} (file.#) through ${queue}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void connection.close().then(() => process.exit(0)));
}
