// Entry point: settings → backends → app → listen; drain and stop on SIGTERM/SIGINT.
import { ConfigError, embeddedParts, loadConfig, type Config } from "./config.js";
import { createApp } from "./app.js";
import { openBackends } from "./backends.js";
import { createLogger } from "./observability/logger.js";
import { startupBanner } from "./dev/banner.js";
import { loadDotEnv } from "./dev/dot-env.js";

loadDotEnv();
let config: Config;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`file-service: ${e.message}\nSee .env.example and README.md for every setting.\n`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
const app = await createApp(config, await openBackends(config), log);
const { grpcPort, httpPort } = await app.listen();
const embedded = embeddedParts(config);
log.info({ grpcPort, httpPort, embedded }, "file-service listening");
// Logs stay JSON on stdout; the human-facing banner goes to stderr.
process.stderr.write(startupBanner({ config, embedded, grpcPort, httpPort, dev: app.dev }));

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down: draining, then closing");
  try {
    await app.close();
    log.info("stopped");
    process.exit(0);
  } catch (e) {
    log.error({ err: e }, "shutdown failed");
    process.exit(1);
  }
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
