// RabbitMQ, both ways: the sink that publishes each event to a durable topic
// exchange (routing key file.<type>, persistent, protobuf binary, publisher
// confirms), and, for WatchFiles, a consumer that brings every instance's
// events into this instance's change feed through an exclusive, auto-deleted
// queue of its own.
//
// amqplib's own recovery reconnects with backoff when the broker restarts or
// the connection is cut, and runs `setup` after every (re)connect: the exchange
// is declared again, the channels and the feed's queue made anew. While down,
// deliver() fails at once (nothing is buffered here: the outbox keeps the
// events and retries them in order).
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type RecoveringChannelModel } from "amqplib";
import { DependencyUnavailableError } from "../domain/errors.js";
import type { Logger } from "../observability/logger.js";
import type { ChangeFeed } from "./change-feed.js";
import type { EventSink } from "./event-sink.js";
import { decodeEvent, encodeEvent, routingKeyFor, type FileEvent } from "./file-event.js";

export interface RabbitOptions {
  url: string;
  exchange: string;
  log: Logger;
  /** Where every instance's events go for this instance's watchers; none: no consumer. */
  feed?: ChangeFeed;
  /** How long a publish may wait for the broker's confirm; default 5000. */
  publishTimeoutMs?: number;
  /** Reconnect backoff, first and longest; default 200 ms and 5 s. */
  reconnect?: { initialDelayMs: number; maxDelayMs: number };
}

export interface RabbitLink {
  sink: EventSink;
  /** Whether a channel is up now (health detail). */
  connected(): boolean;
  /** Resolves once connected (tests; the service never waits for the broker). */
  waitForConnect(): Promise<void>;
  close(): Promise<void>;
}

/** The AMQP `type` of every message: the contract's message name. */
export const MESSAGE_TYPE = "file.v1.FileEvent";

export function connectRabbit(options: RabbitOptions): RabbitLink {
  const { exchange, log, feed } = options;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  let confirm: ConfirmChannel | undefined;
  let connectedOnce: () => void;
  const firstConnect = new Promise<void>((resolve) => (connectedOnce = resolve));

  const model: Promise<RecoveringChannelModel> = connect(options.url, {
    recovery: {
      initialDelay: options.reconnect?.initialDelayMs ?? 200,
      maxDelay: options.reconnect?.maxDelayMs ?? 5_000,
      maxRetries: Infinity,
      // The service starts whether or not the broker answers; events wait in the outbox.
      waitForConnect: false,
      async setup(connection: ChannelModel) {
        // The recovering model listens to this connection only once setup is done: a broker
        // that closes it meanwhile ("Unexpected close") would be an uncaught 'error' event.
        // Setup then fails and recovery tries again; afterwards the model re-emits errors (below).
        connection.on("error", () => undefined);
        const channel = await connection.createConfirmChannel();
        channel.on("error", (err: Error) => log.warn({ err }, "event broker channel failed"));
        channel.on("close", () => {
          if (confirm === channel) confirm = undefined;
        });
        await channel.assertExchange(exchange, "topic", { durable: true });
        if (feed !== undefined) {
          const consumer = await connection.createChannel();
          consumer.on("error", (err: Error) => log.warn({ err }, "event feed channel failed"));
          const { queue } = await consumer.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
          await consumer.bindQueue(queue, exchange, "file.#");
          await consumer.consume(
            queue,
            (message: ConsumeMessage | null) => {
              if (message === null || message.properties.type !== MESSAGE_TYPE) return;
              try {
                feed.publish(decodeEvent(message.content));
              } catch (err) {
                log.warn({ err }, "an event on the broker could not be decoded");
              }
            },
            { noAck: true },
          );
        }
        confirm = channel;
        log.info({ exchange }, "event broker connected");
        connectedOnce();
      },
    },
  });
  void model.then((m) => {
    m.on("disconnect", (err: Error) => {
      confirm = undefined;
      log.warn({ err }, "event broker disconnected; reconnecting");
    });
    m.on("error", (err: Error) => log.warn({ err }, "event broker connection failed"));
    m.on("handler-error", (err: Error) => log.error({ err }, "event broker listener failed"));
  });

  const sink: EventSink = {
    name: "rabbitmq",
    deliver(event: FileEvent) {
      const channel = confirm;
      if (channel === undefined) {
        return Promise.reject(new DependencyUnavailableError("event broker", new Error("not connected")));
      }
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new DependencyUnavailableError("event broker", new Error(`no confirm within ${publishTimeoutMs} ms`))),
          publishTimeoutMs,
        );
        try {
          channel.publish(
            exchange,
            routingKeyFor(event.type),
            Buffer.from(encodeEvent(event)),
            {
              persistent: true,
              contentType: "application/proto",
              type: MESSAGE_TYPE,
              messageId: event.eventId,
              appId: "file-service",
              timestamp: Math.floor(Number(event.occurredAt?.seconds ?? 0n)),
            },
            (err: unknown) => {
              clearTimeout(timer);
              if (err) reject(new DependencyUnavailableError("event broker", err));
              else resolve();
            },
          );
        } catch (err) {
          // The channel closed between the check and the publish.
          clearTimeout(timer);
          reject(new DependencyUnavailableError("event broker", err));
        }
      });
    },
  };

  return {
    sink,
    connected: () => confirm !== undefined,
    waitForConnect: () => firstConnect,
    async close() {
      confirm = undefined;
      await (await model).close().catch(() => undefined);
    },
  };
}
