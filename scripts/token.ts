// Mints a user JWT for local testing, signed as the service would verify it:
//   npm run token -- alice [--ttl 1h]
// With JWT settings (the environment or .env): JWT_SECRET, JWT_ISSUER and
// JWT_AUDIENCE. Without them (zero-setup mode): the dev secret, issuer and
// audience under DATA_DIR, exactly where `npm start` finds them.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.js";
import { devJwtSettings, signUserToken } from "../src/dev/bootstrap.js";
import { loadDotEnv } from "../src/dev/dot-env.js";

const usage = "usage: npm run token -- <user-id> [--ttl 1h]\n";
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { ttl: { type: "string", default: "1h" } },
});
const subject = positionals[0];
if (subject === undefined) {
  process.stderr.write(usage);
  process.exit(2);
}

loadDotEnv();
let jwt;
try {
  jwt = loadConfig().jwt;
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`token: ${e.message}\n`);
  process.exit(2);
}
const settings = jwt.kind === "dev" ? await devJwtSettings(jwt.dir) : jwt;
if (settings.secret === undefined) {
  process.stderr.write("token: JWT_JWKS_URL is set: tokens come from that issuer; this command can only sign with JWT_SECRET\n");
  process.exit(2);
}
const token = await signUserToken({ ...settings, secret: settings.secret, subject, ttl: values.ttl });
process.stdout.write(`${token}\n`);
