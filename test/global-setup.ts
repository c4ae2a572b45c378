// Before any test: are the servers the suite talks to there? A missing one
// would otherwise show as a wall of timeouts in every file. One line each,
// naming the server and how to start it, and the run stops.
import { connect } from "node:net";

interface Server {
  name: string;
  url: string;
  defaultPort: number;
  start: string;
}

const servers: Server[] = [
  {
    name: "MariaDB/MySQL",
    url: process.env.TEST_DATABASE_ADMIN_URL ?? "mysql://root@127.0.0.1:3306/test",
    defaultPort: 3306,
    start: "start it (Debian: `start-stop-daemon --start --background --exec /usr/sbin/mariadbd -- --user=mysql`), or run `bash .ci/run`, which installs and starts it; another server: TEST_DATABASE_ADMIN_URL",
  },
  {
    name: "Redis",
    url: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    defaultPort: 6379,
    start: "start it (`redis-server --daemonize yes --bind 127.0.0.1`), or run `bash .ci/run`, which installs and starts it; another server: TEST_REDIS_URL",
  },
  {
    name: "RabbitMQ",
    url: process.env.TEST_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672",
    defaultPort: 5672,
    start: "start it (Debian: `rabbitmq-server -detached`), or run `bash .ci/run`, which installs and starts it; another broker: TEST_RABBITMQ_URL",
  },
];

function answers(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export default async function checkServers(): Promise<void> {
  const missing: string[] = [];
  await Promise.all(
    servers.map(async (server) => {
      const url = new URL(server.url);
      const port = Number(url.port || server.defaultPort);
      if (!(await answers(url.hostname, port))) {
        missing.push(`npm test needs ${server.name} at ${url.hostname}:${port}, and nothing answers there: ${server.start}.`);
      }
    }),
  );
  if (missing.length > 0) {
    // A thrown error would come with vitest's stack trace around it: just the lines.
    process.stderr.write(`\n${missing.join("\n")}\n\n`);
    process.exit(1);
  }
}
