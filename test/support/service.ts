// Boots the real service (both listeners on loopback, ephemeral ports) against
// a fresh MariaDB database and an S3 server in a child process, with a PKI made
// for the run. Tests then talk to it only through real clients over sockets.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { loadConfig } from "../../src/config.js";
import { createApp, type App } from "../../src/app.js";
import { openBackends } from "../../src/backends.js";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import { createMysqlFileRepository } from "../../src/db/mysql/mysql-file-repository.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import {
  createCertificateAuthority,
  issueClientCertificate,
  writeDevPki,
  type DevPkiPaths,
  type IssuedCertificate,
} from "../../src/dev/pki.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { startS3Server, type S3Server } from "./s3-server.js";

export const JWT_ISSUER = "https://auth.test";
export const JWT_AUDIENCE = "file-service";
export const JWT_SECRET = "test-secret-of-at-least-32-bytes!!";
export const CORS_ORIGIN = "http://app.test";

export interface Pki {
  dir: string;
  paths: DevPkiPaths;
  ca: string;
  /** Allowed service "hangout". */
  hangout: IssuedCertificate & { certFile: string; keyFile: string };
  /** Signed by our CA, but not in ALLOWED_CLIENTS. */
  rogue: IssuedCertificate;
  /** CN "hangout" but signed by another CA. */
  foreign: IssuedCertificate;
}

export interface TestService {
  grpcUrl: string;
  httpUrl: string;
  grpcPort: number;
  pki: Pki;
  app: App;
  db: TestDatabase;
  s3: S3Server;
  /** Direct access to the store, for checking what the service left in S3. */
  objects: ObjectStore;
  files: FileRepository;
  /** FileService over gRPC + mTLS, as a backend service calls it. */
  serviceClient(cert?: IssuedCertificate): Client<typeof FileService>;
  /** FileService over Connect JSON on the public listener, as a browser calls it. */
  userClient(token: string | undefined): Client<typeof FileService>;
  userToken(subject: string, edit?: (jwt: SignJWT) => SignJWT): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra or replacement settings. */
  env?: Record<string, string>;
  /** Reuse backends from another run instead of creating new ones. */
  db?: TestDatabase;
  s3?: S3Server;
  pki?: Pki;
  /** The service's logger (default: one at TEST_LOG_LEVEL, silent), e.g. to see when it refused a call. */
  log?: Logger;
}

export async function createPki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "fs-pki-"));
  const paths = await writeDevPki(dir, { clients: ["hangout", "rogue"] });
  const { readFile } = await import("node:fs/promises");
  const read = (p: string) => readFile(p, "utf8");
  const [hangout, rogue] = paths.clients;
  const foreignCa = await createCertificateAuthority("foreign CA");
  return {
    dir,
    paths,
    ca: await read(paths.caCert),
    hangout: { cert: await read(hangout!.cert), key: await read(hangout!.key), certFile: hangout!.cert, keyFile: hangout!.key },
    rogue: { cert: await read(rogue!.cert), key: await read(rogue!.key) },
    foreign: await issueClientCertificate(foreignCa, { commonName: "hangout" }),
  };
}

export interface Backends {
  db: TestDatabase;
  s3: S3Server;
  pki: Pki;
  stop(): Promise<void>;
}

/** A fresh database, S3 server and PKI, for tests that start several services on them. */
export async function startBackends(): Promise<Backends> {
  const [db, s3, pki] = await Promise.all([createTestDatabase(), startS3Server(), createPki()]);
  return {
    db,
    s3,
    pki,
    async stop() {
      await Promise.all([db.drop(), s3.stop(), rm(pki.dir, { recursive: true, force: true })]);
    },
  };
}

/** The settings that point a service at test backends. */
export function serviceEnv(backends: { db: TestDatabase; s3: S3Server; pki: Pki }): Record<string, string> {
  const { db, s3, pki } = backends;
  return {
    DATABASE_URL: db.url,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: "us-east-1",
    S3_FORCE_PATH_STYLE: "true",
    TLS_CA_FILE: pki.paths.caCert,
    TLS_CERT_FILE: pki.paths.serverCert,
    TLS_KEY_FILE: pki.paths.serverKey,
    ALLOWED_CLIENTS: "hangout",
    JWT_SECRET,
    JWT_ISSUER,
    JWT_AUDIENCE,
  };
}

export async function startTestService(options: StartOptions = {}): Promise<TestService> {
  const db = options.db ?? (await createTestDatabase());
  const s3 = options.s3 ?? (await startS3Server());
  const pki = options.pki ?? (await createPki());
  const config = loadConfig({
    ...serviceEnv({ db, s3, pki }),
    HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    CORS_ORIGINS: CORS_ORIGIN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_TIMEOUT_MS: "2000",
    SHUTDOWN_DRAIN_DELAY_MS: "0",
    HEALTH_INTERVAL_MS: "200",
    ...options.env,
  });
  if (config.database.kind !== "mysql" || config.objects.kind !== "s3") throw new Error("the harness runs on MySQL and S3");
  const app: App = await createApp(config, await openBackends(config), options.log ?? createLogger(config.logLevel));
  const { grpcPort, httpPort } = await app.listen();
  // Health answers from the last probe: wait for the first one, so tests see the real state.
  await app.monitor.check();
  const grpcUrl = `https://localhost:${grpcPort}`;
  const httpUrl = `${config.publicTls ? "https://localhost" : "http://127.0.0.1"}:${httpPort}`;

  // Separate store/repository handles for assertions, so closing the app's does not affect them.
  const checkObjects = createS3ObjectStore(config.objects);
  const checkFiles = createMysqlFileRepository(config.database.url, { connectionLimit: 2 });
  const sessions: Http2SessionManager[] = [];

  return {
    grpcUrl,
    httpUrl,
    grpcPort,
    pki,
    app,
    db,
    s3,
    objects: checkObjects,
    files: checkFiles,
    serviceClient(cert = pki.hangout) {
      const sessionManager = new Http2SessionManager(grpcUrl, undefined, {
        ca: pki.ca,
        cert: cert.cert,
        key: cert.key,
      });
      sessions.push(sessionManager);
      return createClient(FileService, createGrpcTransport({ baseUrl: grpcUrl, sessionManager }));
    },
    userClient(token) {
      const transport: Transport = createConnectTransport({
        baseUrl: httpUrl,
        httpVersion: "1.1",
        interceptors: token === undefined ? [] : [bearer(token)],
      });
      return createClient(FileService, transport);
    },
    userToken(subject, edit = (jwt) => jwt) {
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(subject)
        .setIssuer(JWT_ISSUER)
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime("5m");
      return edit(jwt).sign(new TextEncoder().encode(JWT_SECRET));
    },
    async stop() {
      for (const s of sessions) s.abort();
      await app.close();
      checkObjects.close();
      await checkFiles.close();
      if (options.db === undefined) await db.drop();
      if (options.s3 === undefined) await s3.stop();
      if (options.pki === undefined) await rm(pki.dir, { recursive: true, force: true });
    },
  };
}

/** Sends a user's JWT, as a browser app's transport would. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}
