// A TCP proxy the chaos harness puts between the service and a dependency
// (MariaDB, S3), so it can make the network fail the two ways production does:
// cut() resets every connection (RST) and refuses new ones until restore();
// stall() holds every byte in both directions (connections stay open, nothing
// moves: a hung database or S3) until resume().
import { connect, createServer, type Socket } from "node:net";

export interface FaultProxy {
  port: number;
  cut(): void;
  restore(): void;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  let stalled = false;
  const reset = (s: Socket) => (s.destroyed ? undefined : s.resetAndDestroy());
  const server = createServer((client) => {
    if (down) return void reset(client);
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined).on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      down = true;
      sockets.forEach(reset);
    },
    restore() {
      down = false;
    },
    stall() {
      stalled = true;
      sockets.forEach((s) => s.pause());
    },
    resume() {
      stalled = false;
      sockets.forEach((s) => s.resume());
    },
    async close() {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
