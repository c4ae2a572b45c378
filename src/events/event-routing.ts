// Settings → where events go: the sinks the outbox delivers to, and the change
// feed WatchFiles streams read. With RabbitMQ, the broker is both: a sink, and
// (through each instance's own queue) the feed of every instance's changes.
// Without it, one instance: the feed takes events straight from the outbox.
import type { Config } from "../config.js";
import type { Logger } from "../observability/logger.js";
import { createChangeFeed, type ChangeFeed } from "./change-feed.js";
import type { EventSink } from "./event-sink.js";
import { connectRabbit, type RabbitLink } from "./rabbitmq.js";
import { webhookSinks } from "./webhooks.js";

export interface EventRouting {
  feed: ChangeFeed;
  sinks: EventSink[];
  rabbit?: RabbitLink;
  close(): Promise<void>;
}

export function routeEvents(config: Config["events"], log: Logger): EventRouting {
  const feed = createChangeFeed((err) => log.warn({ err }, "a watcher failed on an event"));
  const rabbit = config.rabbitmq && connectRabbit({ ...config.rabbitmq, log: log.child({ component: "events" }), feed });
  const local: EventSink = {
    name: "watchers",
    inline: true,
    async deliver(event) {
      feed.publish(event);
    },
  };
  const sinks = [rabbit?.sink ?? local, ...(config.webhooks ? webhookSinks(config.webhooks.urls, { secret: config.webhooks.secret, maxAttempts: config.webhooks.maxAttempts }) : [])];
  return {
    feed,
    sinks,
    rabbit,
    async close() {
      await rabbit?.close();
    },
  };
}
