// Entry point: settings → backends → app → listen; stop cleanly on SIGTERM/SIGINT.
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createApp } from "./app.js";
import { createLogger } from "./observability/logger.js";
import { createMysqlFileRepository } from "./db/mysql/mysql-file-repository.js";
import { createS3ObjectStore } from "./storage/s3/s3-object-store.js";

let config: Config;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`file-service: ${e.message}\nSee .env.example and README.md for every setting.\n`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
const app = await createApp(
  config,
  {
    files: createMysqlFileRepository(config.databaseUrl),
    objects: createS3ObjectStore(config.s3),
  },
  log,
);
const { grpcPort, httpPort } = await app.listen();
log.info(
  { grpc: `https://${config.host}:${grpcPort}`, http: `${config.publicTls ? "https" : "http"}://${config.host}:${httpPort}` },
  "file-service listening (internal: gRPC + mTLS; public: Connect/gRPC-Web + JWT)",
);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  try {
    await app.close();
    process.exit(0);
  } catch (e) {
    log.error({ err: e }, "shutdown failed");
    process.exit(1);
  }
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
