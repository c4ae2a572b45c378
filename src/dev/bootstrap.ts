// Embedded defaults → concrete material. The first start creates a dev PKI, a
// JWT secret and a URL-signing key under the data folder; later starts reuse
// them, so certificates handed to clients and tokens already minted keep working.
import { randomBytes } from "node:crypto";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SignJWT } from "jose";
import type { Config, JwtKeySettings } from "../config.js";

export const DEV_JWT_ISSUER = "file-service-dev";
export const DEV_JWT_AUDIENCE = "file-service";
export const DEV_USER = "demo";
const DEV_TOKEN_TTL = "30d";

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Set for the dev PKI: the files a client uses (for the start-up banner). */
  devClient?: { caFile: string; certFile: string; keyFile: string };
}

export async function resolveTls(tls: Config["tls"]): Promise<TlsMaterial> {
  if (tls.kind === "files") {
    const [ca, cert, key] = await Promise.all([readFile(tls.caFile), readFile(tls.certFile), readFile(tls.keyFile)]);
    return { ca, cert, key };
  }
  const file = (name: string) => join(tls.dir, name);
  const needed = ["ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem"];
  if (!(await allExist(needed.map(file)))) {
    // The certificate toolkit is loaded only to make a dev PKI: once, on a first start.
    const { writeDevPki } = await import("./pki.js");
    await writeDevPki(tls.dir, { clients: ["hangout"] });
  }
  const [ca, cert, key] = await Promise.all([
    readFile(file("ca.pem")),
    readFile(file("server.pem")),
    readFile(file("server-key.pem")),
  ]);
  return {
    ca,
    cert,
    key,
    devClient: { caFile: file("ca.pem"), certFile: file("client.pem"), keyFile: file("client-key.pem") },
  };
}

export interface JwtMaterial {
  settings: JwtKeySettings;
  /** Set for the dev secret: a ready token for user "demo". */
  devTokenFile?: string;
}

export async function resolveJwt(jwt: Config["jwt"]): Promise<JwtMaterial> {
  if (jwt.kind === "keys") {
    const { kind: _kind, ...settings } = jwt;
    return { settings };
  }
  const settings = await devJwtSettings(jwt.dir);
  const token = await signUserToken({ ...settings, subject: DEV_USER, ttl: DEV_TOKEN_TTL });
  const devTokenFile = join(jwt.dir, "token");
  await writeFile(devTokenFile, `${token}\n`, { mode: 0o600 });
  return { settings, devTokenFile };
}

/** The dev secret (created on first use), issuer and audience, found under the data folder's dev/ as the service finds them. */
export async function devJwtSettings(devDir: string): Promise<JwtKeySettings & { secret: string }> {
  const secret = (await readOrCreateSecret(join(devDir, "jwt-secret"))).toString("utf8");
  return { secret, algorithms: ["HS256"], issuer: DEV_JWT_ISSUER, audience: DEV_JWT_AUDIENCE };
}

/** An HS256 user token, as `npm run token` and the dev bootstrap hand out. */
export function signUserToken(input: { secret: string; issuer: string; audience: string; subject: string; ttl: string }): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(input.subject)
    .setIssuer(input.issuer)
    .setAudience(input.audience)
    .setIssuedAt()
    .setExpirationTime(input.ttl)
    .sign(new TextEncoder().encode(input.secret));
}

/** The key that signs the local store's URLs; kept so URLs survive a restart. */
export function resolveUrlSigningKey(dataDir: string): Promise<Buffer> {
  return readOrCreateSecret(join(dataDir, "dev", "url-signing-key"));
}

/** A random 32-byte secret (base64url text), created once with mode 0600. */
async function readOrCreateSecret(path: string): Promise<Buffer> {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  try {
    // "wx": of two processes starting at once, exactly one creates it.
    await writeFile(path, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return readFile(path);
}

async function allExist(paths: readonly string[]): Promise<boolean> {
  const results = await Promise.allSettled(paths.map((p) => access(p)));
  return results.every((r) => r.status === "fulfilled");
}
