// `npm run certs [-- --out DIR] [--client NAME]... [--host NAME]... [--force]`
// Writes a development PKI for the internal mTLS listener (see src/dev/pki.ts).
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeDevPki } from "../src/dev/pki.js";

const USAGE = `Usage: npm run certs -- [options]
  --out DIR        where to write (default: certs)
  --client NAME    a client service (repeatable; default: hangout); the first is client.pem
  --host NAME      an extra DNS name or IP for the server cert (repeatable),
                   besides localhost, 127.0.0.1 and ::1
  --force          replace an existing CA (every certificate it signed becomes useless)
  --help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: "string", default: "certs" },
        client: { type: "string", multiple: true },
        host: { type: "string", multiple: true },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }

  const out = resolve(values.out);
  const caFile = join(out, "ca.pem");
  // A new CA would silently invalidate client certs already handed to other services.
  if (existsSync(caFile) && !values.force) {
    console.error(`${caFile} already exists; pass --force to replace the whole PKI.`);
    return 1;
  }

  const clients = values.client ?? ["hangout"];
  const paths = await writeDevPki(out, { clients, hosts: values.host ?? [] });

  const show = (p: string) => (relative(process.cwd(), p).startsWith("..") ? p : relative(process.cwd(), p));
  console.log(`Wrote development PKI to ${out}:`);
  for (const p of [paths.caCert, paths.caKey, paths.serverCert, paths.serverKey]) console.log(`  ${show(p)}`);
  for (const c of paths.clients) console.log(`  ${show(c.cert)}, ${show(c.key)}  (client "${c.name}")`);
  console.log(`
Settings for the service (.env):
TLS_CA_FILE=${show(paths.caCert)}
TLS_CERT_FILE=${show(paths.serverCert)}
TLS_KEY_FILE=${show(paths.serverKey)}
ALLOWED_CLIENTS=${clients.join(",")}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
