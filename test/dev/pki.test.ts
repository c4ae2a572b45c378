// The dev PKI is checked against real node:tls / node:http2 handshakes, since
// that is what the internal listener relies on.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  loadCertificateAuthority,
  SERVICE_URI_PREFIX,
  writeDevPki,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../../src/dev/pki.js";

let ca: CertificateAuthority;
let server: IssuedCertificate;
let client: IssuedCertificate;
let foreignClient: IssuedCertificate;

beforeAll(async () => {
  ca = await createCertificateAuthority("test CA");
  server = await issueServerCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] });
  client = await issueClientCertificate(ca, { commonName: "hangout", uris: [`${SERVICE_URI_PREFIX}hangout`] });
  // Same CN and URI, but signed by a CA the server does not trust.
  const foreignCa = await createCertificateAuthority("test CA");
  foreignClient = await issueClientCertificate(foreignCa, {
    commonName: "hangout",
    uris: [`${SERVICE_URI_PREFIX}hangout`],
  });
});

interface Seen {
  authorized: boolean;
  peer: tls.PeerCertificate;
}

/** A mutual-TLS server that records each accepted peer and each refused handshake. */
async function startTlsServer() {
  const accepted: Seen[] = [];
  const refused: Error[] = [];
  const srv = tls.createServer({
    key: server.key,
    cert: server.cert,
    ca: ca.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  srv.on("secureConnection", (socket) => {
    accepted.push({ authorized: socket.authorized, peer: socket.getPeerCertificate() });
    socket.end("hello\n");
  });
  srv.on("tlsClientError", (err) => refused.push(err));
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => srv.close(() => resolve()));
  return { port, accepted, refused, close };
}

type Attempt =
  | { ok: true; data: string; serverCert: tls.PeerCertificate }
  | { ok: false; error: Error };

/**
 * Connects and waits for the server's greeting. With TLS 1.3 the client may
 * finish its handshake before the server rejects its certificate, so only
 * receiving application data counts as success.
 */
function attempt(options: tls.ConnectionOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = tls.connect({ ca: ca.cert, ...options });
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => {
      if (data.length > 0) resolve({ ok: true, data, serverCert: socket.getPeerCertificate() });
    });
    socket.on("error", (error) => resolve({ ok: false, error }));
    socket.on("close", () => resolve({ ok: false, error: new Error("closed without data") }));
  });
}

describe("dev PKI over node:tls", () => {
  let srv: Awaited<ReturnType<typeof startTlsServer>>;
  beforeAll(async () => {
    srv = await startTlsServer();
  });
  afterAll(async () => {
    await srv.close();
  });

  it("accepts a client certificate from the CA and exposes its CN and URI SAN", async () => {
    const result = await attempt({ host: "127.0.0.1", port: srv.port, cert: client.cert, key: client.key });
    expect(result).toMatchObject({ ok: true, data: "hello\n" });
    const seen = srv.accepted.at(-1);
    expect(seen?.authorized).toBe(true);
    expect(seen?.peer.subject.CN).toBe("hangout");
    expect(seen?.peer.subjectaltname).toBe("URI:spiffe://file-service.local/hangout");
  });

  it("refuses a client certificate from another CA", async () => {
    const before = srv.accepted.length;
    const refusedBefore = srv.refused.length;
    const result = await attempt({
      host: "127.0.0.1",
      port: srv.port,
      cert: foreignClient.cert,
      key: foreignClient.key,
    });
    expect(result.ok).toBe(false);
    expect(srv.accepted.length).toBe(before);
    // Node checks the chain after the handshake and destroys the socket without
    // an alert, so the server reports a hang-up rather than a verify error.
    await vi.waitFor(() => expect(srv.refused.length).toBeGreaterThan(refusedBefore));
  });

  it("refuses a client without a certificate", async () => {
    const before = srv.accepted.length;
    const refusedBefore = srv.refused.length;
    const result = await attempt({ host: "127.0.0.1", port: srv.port });
    expect(result.ok).toBe(false);
    expect(srv.accepted.length).toBe(before);
    await vi.waitFor(() => expect(srv.refused.length).toBeGreaterThan(refusedBefore));
    expect(srv.refused.at(-1)?.message).toMatch(/peer did not return a certificate|certificate required/i);
  });

  it("serves a certificate valid for localhost, 127.0.0.1 and ::1", async () => {
    // Default verification checks the identity against servername / host.
    const byName = await attempt({
      host: "127.0.0.1",
      servername: "localhost",
      port: srv.port,
      cert: client.cert,
      key: client.key,
    });
    const byIp = await attempt({ host: "127.0.0.1", port: srv.port, cert: client.cert, key: client.key });
    expect(byName.ok).toBe(true);
    expect(byIp.ok).toBe(true);
    if (!byIp.ok) return;
    expect(tls.checkServerIdentity("localhost", byIp.serverCert)).toBeUndefined();
    expect(tls.checkServerIdentity("127.0.0.1", byIp.serverCert)).toBeUndefined();
    expect(tls.checkServerIdentity("::1", byIp.serverCert)).toBeUndefined();
    expect(tls.checkServerIdentity("file-service.example", byIp.serverCert)).toBeInstanceOf(Error);
  });

  it("does not let the server certificate pass as a client certificate", async () => {
    // EKU serverAuth only: the server's purpose check must reject it.
    const result = await attempt({ host: "127.0.0.1", port: srv.port, cert: server.cert, key: server.key });
    expect(result.ok).toBe(false);
  });
});

describe("dev PKI over node:http2", () => {
  it("is accepted by a secure HTTP/2 server requiring client certificates", async () => {
    const srv = http2.createSecureServer({
      key: server.key,
      cert: server.cert,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    srv.on("stream", (stream) => {
      const socket = stream.session?.socket as tls.TLSSocket;
      const peer = socket.getPeerCertificate();
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end(JSON.stringify({ authorized: socket.authorized, cn: peer.subject.CN, san: peer.subjectaltname }));
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const { port } = srv.address() as AddressInfo;
    try {
      const session = http2.connect(`https://127.0.0.1:${port}`, {
        ca: ca.cert,
        cert: client.cert,
        key: client.key,
      });
      const body = await new Promise<string>((resolve, reject) => {
        session.on("error", reject);
        const req = session.request({ ":path": "/" });
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (chunk: string) => {
          text += chunk;
        });
        req.on("end", () => resolve(text));
        req.on("error", reject);
        req.end();
      });
      session.close();
      expect(JSON.parse(body)).toEqual({
        authorized: true,
        cn: "hangout",
        san: "URI:spiffe://file-service.local/hangout",
      });
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describe("certificate details", () => {
  it("backdates notBefore by about an hour and returns PKCS#8 keys", () => {
    const cert = new X509Certificate(client.cert);
    const skew = Date.now() - new Date(cert.validFrom).getTime();
    expect(skew).toBeGreaterThan(55 * 60 * 1000);
    expect(skew).toBeLessThan(65 * 60 * 1000);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 24 * 3600 * 1000);
    expect(client.key.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
  });

  it("rejects a server certificate without names", async () => {
    await expect(issueServerCertificate(ca, {})).rejects.toThrow(/at least one/);
    await expect(issueServerCertificate(ca, { ipAddresses: ["localhost"] })).rejects.toThrow(/not an IP/);
  });
});

describe("writeDevPki", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pki-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the CA, server and client files with private keys at 0600", async () => {
    const paths = await writeDevPki(dir, { clients: ["hangout", "billing"], hosts: ["file-service"] });
    expect(paths).toEqual({
      caCert: join(dir, "ca.pem"),
      caKey: join(dir, "ca-key.pem"),
      serverCert: join(dir, "server.pem"),
      serverKey: join(dir, "server-key.pem"),
      clients: [
        { name: "hangout", cert: join(dir, "client.pem"), key: join(dir, "client-key.pem") },
        { name: "billing", cert: join(dir, "billing.pem"), key: join(dir, "billing-key.pem") },
      ],
    });
    for (const key of [paths.caKey, paths.serverKey, ...paths.clients.map((c) => c.key)]) {
      expect(((await stat(key)).mode & 0o777).toString(8)).toBe("600");
    }
    for (const cert of [paths.caCert, paths.serverCert, ...paths.clients.map((c) => c.cert)]) {
      expect(((await stat(cert)).mode & 0o777).toString(8)).toBe("644");
    }

    const caCert = new X509Certificate(await readFile(paths.caCert));
    const serverCert = new X509Certificate(await readFile(paths.serverCert));
    expect(serverCert.verify(caCert.publicKey)).toBe(true);
    expect(serverCert.checkHost("file-service")).toBe("file-service");
    expect(serverCert.checkHost("localhost")).toBe("localhost");
    expect(serverCert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(serverCert.checkIP("::1")).toBe("::1");

    const hangout = new X509Certificate(await readFile(paths.clients[0]!.cert));
    expect(hangout.subject).toBe("CN=hangout");
    expect(hangout.subjectAltName).toBe("URI:spiffe://file-service.local/hangout");
    expect(hangout.verify(caCert.publicKey)).toBe(true);
    const billing = new X509Certificate(await readFile(paths.clients[1]!.cert));
    expect(billing.subject).toBe("CN=billing");
  });

  it("writes a CA that can be loaded back to issue more certificates", async () => {
    const paths = await writeDevPki(dir, { clients: ["hangout"] });
    const loaded = await loadCertificateAuthority(
      await readFile(paths.caCert, "utf8"),
      await readFile(paths.caKey, "utf8"),
    );
    const extra = await issueClientCertificate(loaded, { commonName: "late" });
    const caCert = new X509Certificate(await readFile(paths.caCert));
    expect(new X509Certificate(extra.cert).verify(caCert.publicKey)).toBe(true);
  });

  it("refuses client names that are unsafe or collide with other files", async () => {
    await expect(writeDevPki(dir, { clients: ["../evil"] })).rejects.toThrow(/invalid client name/);
    await expect(writeDevPki(dir, { clients: ["hangout", "server"] })).rejects.toThrow(/collide/);
    await expect(writeDevPki(dir, { clients: ["a", "a"] })).rejects.toThrow(/duplicate/);
  });
});

describe("scripts/certs.ts", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "scripts/certs.ts", ...args], (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
      });
    });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "certs-script-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the PKI, prints the settings, and refuses to replace the CA without --force", async () => {
    const out = join(dir, "certs");
    const first = await run(["--out", out, "--client", "hangout", "--client", "billing", "--host", "file-service"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`TLS_CA_FILE=${join(out, "ca.pem")}`);
    expect(first.stdout).toContain("ALLOWED_CLIENTS=hangout,billing");
    const server = new X509Certificate(await readFile(join(out, "server.pem")));
    expect(server.checkHost("file-service")).toBe("file-service");
    expect((await stat(join(out, "billing-key.pem"))).mode & 0o777).toBe(0o600);

    const caBefore = await readFile(join(out, "ca.pem"), "utf8");
    const again = await run(["--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--force/);
    expect(await readFile(join(out, "ca.pem"), "utf8")).toBe(caBefore);

    const forced = await run(["--out", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(await readFile(join(out, "ca.pem"), "utf8")).not.toBe(caBefore);
  });
});
