// Webhook sinks for consumers that speak HTTP: each event POSTed as the
// FileEvent's protobuf JSON, signed per Standard Webhooks (webhook-id = the
// event id, webhook-timestamp, webhook-signature) with the `standardwebhooks`
// reference implementation, so a consumer verifies it with any of that spec's
// libraries. One sink per URL: the outbox retries each on its own, so a slow
// or failing endpoint never delays another, the broker, or an RPC.
import { Webhook } from "standardwebhooks";
import type { EventSink } from "./event-sink.js";
import { eventJson, type FileEvent } from "./file-event.js";

export interface WebhookOptions {
  /** Standard Webhooks secret: `whsec_` and base64. Never logged. */
  secret: string;
  /** Per request; default 10000. */
  timeoutMs?: number;
  /** Deliveries tried before an event is given up for an endpoint. */
  maxAttempts?: number;
}

/** Why an endpoint refused an event: its status (the body is the endpoint's, not ours to log). */
export class WebhookRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`webhook ${url} answered ${status}`);
    this.name = "WebhookRefusedError";
  }
}

export function webhookSinks(urls: readonly string[], options: WebhookOptions): EventSink[] {
  const signer = new Webhook(options.secret);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return urls.map((url) => ({
    name: `webhook:${url}`,
    maxAttempts: options.maxAttempts,
    async deliver(event: FileEvent, signal?: AbortSignal) {
      const body = eventJson(event);
      const timestamp = new Date();
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": event.eventId,
          "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
          "webhook-signature": signer.sign(event.eventId, timestamp, body),
          "user-agent": "file-service",
        },
        body,
        redirect: "error",
        signal: signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      // Read (and drop) the body, so the connection is reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) throw new WebhookRefusedError(url, response.status);
    },
  }));
}
