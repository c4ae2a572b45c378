// A TCP proxy in front of a real server, to make network trouble on demand:
// pause() stalls traffic (a slow database), cut() drops every connection and
// refuses new ones (the database went away), restore() undoes both.
import { createServer, connect, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  pause(): void;
  resume(): void;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let paused = false;
  let down = false;
  const server = createServer((client) => {
    if (down) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (paused) {
      client.pause();
      upstream.pause();
    }
    const drop = () => {
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
