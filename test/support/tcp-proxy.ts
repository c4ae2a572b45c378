// A TCP proxy in front of a real server, to make network trouble on demand:
// pause() stalls traffic (a slow database), delay() holds every answer a while
// (a slow one that still answers), cut() drops every connection and refuses new
// ones (the database went away), restore() undoes both.
import { createServer, connect, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  pause(): void;
  resume(): void;
  /** Holds each chunk the server sends `ms` before passing it on, in order; 0 ends it. */
  delay(ms: number): void;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let paused = false;
  let down = false;
  let delayMs = 0;
  const server = createServer((client) => {
    if (down) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    // The server's answers, held delayMs each (pause() still stops them at the source).
    const held: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const release = () => {
      timer = undefined;
      while (held.length > 0 && held[0]!.at <= Date.now()) client.write(held.shift()!.chunk);
      if (held.length > 0) timer = setTimeout(release, held[0]!.at - Date.now());
      else if (ended) client.end();
    };
    upstream.on("data", (chunk: Buffer) => {
      if (delayMs === 0 && held.length === 0) return void client.write(chunk);
      held.push({ at: Date.now() + delayMs, chunk });
      timer ??= setTimeout(release, delayMs);
    });
    upstream.on("end", () => {
      ended = true;
      if (held.length === 0) client.end();
    });
    if (paused) {
      client.pause();
      upstream.pause();
    }
    const drop = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const each = (fn: (s: Socket) => void) => pairs.forEach(([a, b]) => (fn(a), fn(b)));
  return {
    port: (server.address() as { port: number }).port,
    pause() {
      paused = true;
      each((s) => s.pause());
    },
    resume() {
      paused = false;
      each((s) => s.resume());
    },
    delay(ms) {
      delayMs = ms;
    },
    cut() {
      down = true;
      each((s) => s.destroy());
    },
    restore() {
      down = false;
    },
    async close() {
      each((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
