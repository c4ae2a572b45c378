// Where the service is and which credentials to use, found the way the CLI
// finds them: given settings first, then FILE_SERVICE_* variables, then the
// zero-setup service's own dev material under DATA_DIR (the client certificate
// its first start created, acting for user "demo").
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { MtlsOptions, TokenOptions } from "./transport.js";

export interface ServiceSettings {
  /** The listener's base URL (FILE_SERVICE_URL). */
  url?: string;
  /** A user JWT for the public listener (FILE_SERVICE_TOKEN). */
  token?: string;
  /** PEM file paths for the internal listener (FILE_SERVICE_CA, FILE_SERVICE_CERT, FILE_SERVICE_KEY). */
  ca?: string;
  cert?: string;
  key?: string;
  /** The owner a service certificate acts for. */
  owner?: string;
}

export interface FoundService {
  options: MtlsOptions | TokenOptions;
  /**
   * The owner calls act for: the given one; "demo" with the zero-setup
   * certificate; "" with a token (the service reads the token's subject);
   * undefined when a service certificate was given without one.
   */
  owner: string | undefined;
  /** How it was found, for a person: "zero-setup credentials under data", "FILE_SERVICE_TOKEN", ... */
  via: string;
}

/** The credentials were missing or unreadable; the message says what to give. */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";
}

const ZERO_SETUP_OWNER = "demo";

export async function findService(given: ServiceSettings = {}, env: NodeJS.ProcessEnv = process.env): Promise<FoundService> {
  const token = given.token ?? env.FILE_SERVICE_TOKEN;
  const url = given.url ?? env.FILE_SERVICE_URL;
  const files = { ca: given.ca ?? env.FILE_SERVICE_CA, cert: given.cert ?? env.FILE_SERVICE_CERT, key: given.key ?? env.FILE_SERVICE_KEY };

  if (token !== undefined && token.trim() !== "") {
    const ca = files.ca === undefined ? undefined : await pem(files.ca, "CA");
    return {
      options: { url: url ?? `http://localhost:${env.HTTP_PORT ?? 8080}`, token: token.trim(), ...(ca ? { ca } : {}) },
      owner: given.owner ?? "",
      via: given.token !== undefined ? "--token" : "FILE_SERVICE_TOKEN",
    };
  }
  if (files.ca !== undefined || files.cert !== undefined || files.key !== undefined) {
    const missing = Object.entries(files).filter(([, path]) => path === undefined).map(([name]) => `--${name}`);
    if (missing.length > 0) throw new DiscoveryError(`a client certificate needs --ca, --cert and --key (or FILE_SERVICE_CA, _CERT, _KEY): ${missing.join(", ")} missing`);
    return {
      options: { url: url ?? defaultGrpcUrl(env), ca: await pem(files.ca!, "CA"), cert: await pem(files.cert!, "certificate"), key: await pem(files.key!, "key") },
      owner: given.owner,
      via: "client certificate",
    };
  }

  const dataDir = env.DATA_DIR ?? "data";
  const certs = join(dataDir, "dev", "certs");
  const read = (name: string) => readFile(join(certs, name)).catch(() => undefined);
  const [ca, cert, key] = await Promise.all([read("ca.pem"), read("client.pem"), read("client-key.pem")]);
  if (ca === undefined || cert === undefined || key === undefined) {
    throw new DiscoveryError(
      `no credentials: no --token or --ca/--cert/--key (or FILE_SERVICE_* variables), and no zero-setup client certificate in ${certs}. ` +
        "Start the service here with `npm start` (its first start creates one), or set DATA_DIR to its data folder.",
    );
  }
  return { options: { url: url ?? defaultGrpcUrl(env), ca, cert, key }, owner: given.owner ?? ZERO_SETUP_OWNER, via: `zero-setup credentials under ${dataDir}` };
}

/** Where `npm start` puts the internal listener, with the same GRPC_PORT setting. */
function defaultGrpcUrl(env: NodeJS.ProcessEnv): string {
  return `https://localhost:${env.GRPC_PORT ?? 9001}`;
}

async function pem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DiscoveryError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
