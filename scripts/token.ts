// Mints a user JWT for local testing, signed with the configured HS256 secret:
//   npm run token -- alice [--ttl 1h]
// Reads JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE from the environment (.env).
import { parseArgs } from "node:util";
import { signUserToken } from "../src/dev/bootstrap.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { ttl: { type: "string", default: "1h" } },
});
const subject = positionals[0];
const { JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE } = process.env;
if (subject === undefined || !JWT_SECRET || !JWT_ISSUER || !JWT_AUDIENCE) {
  process.stderr.write(
    "usage: npm run token -- <user-id> [--ttl 1h]\n(needs JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE, e.g. from .env)\n",
  );
  process.exit(2);
}
const token = await signUserToken({
  secret: JWT_SECRET,
  issuer: JWT_ISSUER,
  audience: JWT_AUDIENCE,
  subject,
  ttl: values.ttl,
});
process.stdout.write(`${token}\n`);
