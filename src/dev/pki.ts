// A throwaway PKI for development and tests: a CA, a server certificate for the
// internal mTLS listener and client certificates for backend services.
// Never use these for production; real deployments bring their own PKI.
import "reflect-metadata"; // @peculiar/x509 needs a Reflect polyfill before it loads
import * as x509 from "@peculiar/x509";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
// Long enough that a dev setup does not expire under people's feet; leaves stay
// within the 825 days that Apple platforms accept for user-trusted CAs.
const CA_VALIDITY_DAYS = 3650;
const LEAF_VALIDITY_DAYS = 825;

/** The URI SAN prefix that identifies our services' client certificates. */
export const SERVICE_URI_PREFIX = "spiffe://file-service.local/";

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface IssuedCertificate {
  cert: string;
  key: string;
}

/** A CA that can issue further certificates. */
export interface CertificateAuthority extends IssuedCertificate {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface ServerCertificateOptions {
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Defaults to the first DNS name (or IP address). */
  commonName?: string;
}

export interface ClientCertificateOptions {
  commonName: string;
  uris?: readonly string[];
}

export async function createCertificateAuthority(commonName: string): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(CA_VALIDITY_DAYS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      // pathLen 0: this CA signs leaves only.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: certificate.toString("pem"),
    key: await exportKey(keys.privateKey),
    certificate,
    privateKey: keys.privateKey,
  };
}

/** Rebuilds a CA from its PEM files, e.g. to issue more certificates later. */
export async function loadCertificateAuthority(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certPem);
  const privateKey = await webcrypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(keyPem),
    KEY_ALGORITHM,
    true,
    ["sign"],
  );
  return { cert: certPem, key: keyPem, certificate, privateKey };
}

export async function issueServerCertificate(
  ca: CertificateAuthority,
  options: ServerCertificateOptions,
): Promise<IssuedCertificate> {
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
  }
  const commonName = options.commonName ?? dnsNames[0] ?? ipAddresses[0];
  if (commonName === undefined) throw new Error("a server certificate needs at least one DNS name or IP address");
  // Hostname checks use the SANs only, so every name must be there.
  const names: x509.JsonGeneralNames = [
    ...dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  return issueLeaf(ca, commonName, x509.ExtendedKeyUsage.serverAuth, names);
}

export async function issueClientCertificate(
  ca: CertificateAuthority,
  options: ClientCertificateOptions,
): Promise<IssuedCertificate> {
  const names = (options.uris ?? []).map((value) => ({ type: "url" as const, value }));
  return issueLeaf(ca, options.commonName, x509.ExtendedKeyUsage.clientAuth, names);
}

export interface WriteDevPkiOptions {
  /** Service names; the first gets client.pem, the others <name>.pem. */
  clients: readonly string[];
  /** Extra server names (DNS, or IP addresses) besides localhost, 127.0.0.1 and ::1. */
  hosts?: readonly string[];
  /** Defaults to "file-service dev CA". */
  caCommonName?: string;
}

export interface DevPkiPaths {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clients: Array<{ name: string; cert: string; key: string }>;
}

// Names become file names and URI path segments.
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Writes a fresh dev PKI into dir (created if missing), overwriting files of
 * the same names. Private keys are written with mode 0600.
 */
export async function writeDevPki(dir: string, options: WriteDevPkiOptions): Promise<DevPkiPaths> {
  for (const name of options.clients) {
    if (!CLIENT_NAME.test(name)) throw new Error(`invalid client name: ${JSON.stringify(name)}`);
  }
  if (new Set(options.clients).size !== options.clients.length) throw new Error("duplicate client names");
  const paths: DevPkiPaths = {
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
    clients: options.clients.map((name, i) => {
      const base = i === 0 ? "client" : name;
      return { name, cert: join(dir, `${base}.pem`), key: join(dir, `${base}-key.pem`) };
    }),
  };
  // A client named e.g. "server" or "ca" would silently replace another file.
  const all = [paths.caCert, paths.caKey, paths.serverCert, paths.serverKey, ...paths.clients.flatMap((c) => [c.cert, c.key])];
  const clash = all.find((p, i) => all.indexOf(p) !== i);
  if (clash !== undefined) throw new Error(`client names collide on file ${clash}`);

  const hosts = options.hosts ?? [];
  const dnsNames = unique(["localhost", ...hosts.filter((h) => isIP(h) === 0)]);
  const ipAddresses = unique(["127.0.0.1", "::1", ...hosts.filter((h) => isIP(h) !== 0)]);

  const ca = await createCertificateAuthority(options.caCommonName ?? "file-service dev CA");
  const server = await issueServerCertificate(ca, { dnsNames, ipAddresses });
  const clients = await Promise.all(
    options.clients.map((name) =>
      issueClientCertificate(ca, { commonName: name, uris: [SERVICE_URI_PREFIX + encodeURIComponent(name)] }),
    ),
  );

  await mkdir(dir, { recursive: true });
  await writePem(paths.caCert, ca.cert, 0o644);
  await writePem(paths.caKey, ca.key, 0o600);
  await writePem(paths.serverCert, server.cert, 0o644);
  await writePem(paths.serverKey, server.key, 0o600);
  for (const [i, c] of paths.clients.entries()) {
    const issued = clients[i]!;
    await writePem(c.cert, issued.cert, 0o644);
    await writePem(c.key, issued.key, 0o600);
  }
  return paths;
}

async function issueLeaf(
  ca: CertificateAuthority,
  commonName: string,
  usage: x509.ExtendedKeyUsage,
  names: x509.JsonGeneralNames,
): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(LEAF_VALIDITY_DAYS);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [commonName] }],
    issuer: ca.certificate.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions,
  });
  return { cert: certificate.toString("pem"), key: await exportKey(keys.privateKey) };
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable so the private key can be exported as PKCS#8.
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
}

async function exportKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

// Backdated so that peers whose clocks run a little behind accept it at once.
function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + days * DAY_MS) };
}

// 16 random bytes, top bit cleared so the DER integer stays positive (RFC 5280 4.1.2.2).
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function writePem(path: string, pem: string, mode: number): Promise<void> {
  // writeFile's mode applies only to new files: remove first so an overwritten
  // key never keeps (or briefly has) wider permissions.
  await rm(path, { force: true });
  await writeFile(path, pem.endsWith("\n") ? pem : `${pem}\n`, { mode, flag: "wx" });
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
