// What JWT verification costs on the public listener: Connect JSON GetFile
// (HTTP/1.1 keep-alive, from a load generator in its own process) on the real
// public listener, FileService, MySQL repository and telemetry, with the real
// user gate (src/auth/request-gate.ts + jwt-verifier.ts) against the same
// composition with a bench-only gate that sets a fixed user principal without
// verifying anything. Goal: JWT verification costs at most 10%.
//
// Variants: HS256 with a shared secret, and RS256 with the keys from a JWKS URL
// (as in production: JWT_JWKS_URL, default algorithms RS256, ES256);
// the JWKS server counts its fetches, which must not grow with requests. A
// browser sends one token with every call until it expires (the verifier
// remembers verified tokens); the last variant shows the worst case instead:
// RS256 with a different token on every request, more than the verifier
// remembers, so each one is verified afresh.
// Besides req/s, the server's CPU time per request (this process: the servers
// and the database client; the load generator is another process).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createContextValues, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createJwtVerifier } from "../../src/auth/jwt-verifier.js";
import type { JwtKeySettings } from "../../src/config.js";
import { kPrincipal } from "../../src/auth/principal.js";
import { createUserGate, type RequestGate } from "../../src/auth/request-gate.js";
import { loadConfig } from "../../src/config.js";
import { createMysqlFileRepository } from "../../src/db/mysql/mysql-file-repository.js";
import { createFileService } from "../../src/files/file-service.js";
import { newFileId } from "../../src/files/file-ids.js";
import { objectKeyFor } from "../../src/storage/object-keys.js";
import { createHealthMonitor } from "../../src/health/health-monitor.js";
import { createHealthService } from "../../src/health/health-service.js";
import { instrumentObjectStore, instrumentRepository } from "../../src/observability/instrument.js";
import { createLogger } from "../../src/observability/logger.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { rpcTelemetry } from "../../src/observability/rpc-telemetry.js";
import { createTracing } from "../../src/observability/tracing.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { createPublicListener, type Listener } from "../../src/transport/listeners.js";
import { createTestDatabase } from "../../test/support/database.js";
import { httpLoad } from "../lib/http-load.js";
import { alternate, median, report, SMOKE, summarize } from "../lib/measure.js";

const DURATION_MS = SMOKE ? 400 : Number(process.env.BENCH_DURATION_MS ?? 4_000);
const WARMUP_MS = SMOKE ? 200 : 1_000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const USER = "bench-user";
const ISSUER = "https://auth.bench";
const AUDIENCE = "file-service";
const SECRET = "bench-secret-of-at-least-32-bytes!!";
const NO_AUTH = "no auth (fixed principal, bench-only gate)";
// More than the verifier remembers (VERIFIED_MAX_ENTRIES), sent in turn: none is ever remembered.
const DISTINCT_TOKENS = 6_000;


/** Bench only: every call is the fixed user, nothing is verified. */
const fixedUserGate: RequestGate = async (context: HandlerContext) => {
  context.values.set(kPrincipal, { kind: "user", subject: USER });
};

// --- the backends and the composition of src/app.ts, reduced to the public listener ---
const db = await createTestDatabase();
const config = loadConfig({ LOG_LEVEL: "warn" } as NodeJS.ProcessEnv);
const log = createLogger("warn");
const metrics = createMetrics();
const tracing = createTracing({ serviceName: "file-service" });
const telemetry = { tracer: tracing.tracer, metrics };
const repository = createMysqlFileRepository(db.url);
const files = instrumentRepository(repository, telemetry);
// GetFile never reaches the object store; presigning would need no network anyway.
const objects = instrumentObjectStore(
  createS3ObjectStore({ bucket: "bench", region: "us-east-1", endpoint: "http://127.0.0.1:9", forcePathStyle: true }),
  telemetry,
);
const fileService = createFileService({
  files,
  objects,
  settings: config.limits,
  images: config.images,
  retry: { maxAttempts: config.processing.maxAttempts, retryBaseMs: config.processing.retryBaseMs },
  processing: { workerId: "bench", leaseMs: config.processing.leaseMs, notify: () => undefined },
  log,
});
const monitor = createHealthMonitor([], 60_000);
const routes = (router: ConnectRouter) => {
  router.service(FileService, fileService);
  router.service(Health, createHealthService(monitor));
};

// Requests served, counted around each gate (the same tiny cost for every variant).
let served = 0;
const counted = (gate: RequestGate): RequestGate => (context) => {
  served++;
  return gate(context);
};

async function listen(gate: RequestGate): Promise<{ app: Listener; port: number }> {
  const app = await createPublicListener({
    routes,
    interceptors: [rpcTelemetry({ ...telemetry, transport: "public" })],
    gate: counted(gate),
    http2MaxConcurrentStreams: 256,
    corsOrigins: [],
    log,
    callTimeoutMs: 30_000,
    shutdownTimeoutMs: 1_000,
    readMaxBytes: 32 * 1024 * 1024,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

// --- keys: a shared secret, and RS256 + ES256 key pairs published as a JWKS ---
const rsa = await generateKeyPair("RS256");
const ec = await generateKeyPair("ES256");
const jwks: { keys: JWK[] } = {
  keys: [
    { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
  ],
};
let jwksFetches = 0;
const jwksServer = createServer((_req, res) => {
  jwksFetches++;
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
});
await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;

const token = (alg: string, kid: string | undefined, key: Parameters<SignJWT["sign"]>[0], jti?: string) =>
  new SignJWT(jti === undefined ? {} : { jti })
    .setProtectedHeader(kid === undefined ? { alg, typ: "JWT" } : { alg, kid, typ: "JWT" })
    .setSubject(USER)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(key);

const jwtSettings = (s: Pick<JwtKeySettings, "secret" | "jwksUrl" | "algorithms">): JwtKeySettings => ({ ...s, issuer: ISSUER, audience: AUDIENCE });

const servers: { app: Listener }[] = [];
try {
  // One uploaded file of the user: GetFile finds it (a PK read in MySQL).
  const fileId = newFileId();
  const at = new Date();
  await repository.insertPending([
    { id: fileId, ownerId: USER, filename: "photo.jpg", contentType: "image/jpeg", sizeBytes: 123_456, md5: "1B2M2Y8AsgTpgAmY7PhCfg==", objectKey: objectKeyFor(fileId), createdAt: at, purpose: "post_attachment" },
  ]);
  await repository.markUploaded(USER, [fileId], at);
  const body = JSON.stringify({ fileId });

  // The worst case gets a new verifier (nothing remembered) before each run:
  // each load generator process sends the tokens from the first one again.
  const rs256Settings = jwtSettings({ jwksUrl, algorithms: ["RS256", "ES256"] });
  let coldVerifier = createJwtVerifier(rs256Settings);
  const variants: { name: string; gate: RequestGate; authorization?: string; authorizations?: string[]; before?: () => void }[] = [
    { name: NO_AUTH, gate: fixedUserGate },
    {
      name: "JWT HS256 (secret)",
      gate: createUserGate(createJwtVerifier(jwtSettings({ secret: SECRET, algorithms: ["HS256"] }))),
      authorization: `Bearer ${await token("HS256", undefined, new TextEncoder().encode(SECRET))}`,
    },
    {
      name: "JWT RS256 (JWKS)",
      gate: createUserGate(createJwtVerifier(jwtSettings({ jwksUrl, algorithms: ["RS256", "ES256"] }))),
      authorization: `Bearer ${await token("RS256", "rsa-1", rsa.privateKey)}`,
    },
    {
      name: `JWT RS256 (JWKS), a new token every request (${DISTINCT_TOKENS} in turn)`,
      gate: createUserGate((t) => coldVerifier(t)),
      before: () => (coldVerifier = createJwtVerifier(rs256Settings)),
      authorizations: await Promise.all(
        // Distinct: each has its own jti.
        Array.from({ length: DISTINCT_TOKENS }, async (_, i) => `Bearer ${await token("RS256", "rsa-1", rsa.privateKey, String(i))}`),
      ),
    },
  ];

  // BENCH_VARIANTS (a regular expression) keeps only some variants besides the baseline, e.g. for profiling.
  const only = process.env.BENCH_VARIANTS === undefined ? undefined : new RegExp(process.env.BENCH_VARIANTS);
  if (only !== undefined) variants.splice(0, variants.length, ...variants.filter((v) => v.name === NO_AUTH || only.test(v.name)));
  const cpuUsPerRequest = new Map<string, number[]>();
  const clientCpu = new Map<string, number[]>();
  const runs = [];
  const loaders: ((connections: number, durationMs: number) => Promise<number>)[] = [];
  for (const v of variants) {
    const { app, port } = await listen(v.gate);
    servers.push({ app });
    const authorizations = v.authorizations ?? (v.authorization === undefined ? [undefined] : [v.authorization]);
    const requests = authorizations.map((authorization) => ({
      path: "/file.v1.FileService/GetFile",
      headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
      body,
    }));
    loaders.push(async (connections, durationMs) => {
      v.before?.();
      const result = await httpLoad({ host: "127.0.0.1", port, requests, connections, durationMs, warmupMs: WARMUP_MS });
      return result.perSecond;
    });
    runs.push({
      name: v.name,
      async run() {
        v.before?.();
        const servedBefore = served;
        const cpuStart = process.cpuUsage();
        const result = await httpLoad({ host: "127.0.0.1", port, requests, connections: CONNECTIONS, durationMs: DURATION_MS, warmupMs: WARMUP_MS });
        const cpu = process.cpuUsage(cpuStart);
        cpuUsPerRequest.set(v.name, [...(cpuUsPerRequest.get(v.name) ?? []), (cpu.user + cpu.system) / (served - servedBefore)]);
        clientCpu.set(v.name, [...(clientCpu.get(v.name) ?? []), result.clientCpuUsPerCall]);
        return result.perSecond;
      },
    });
  }
  // Check each variant answers (and warm the JIT, pools and JWKS caches).
  for (const r of runs) await r.run();
  const fetchesAfterWarmup = jwksFetches;
  cpuUsPerRequest.clear();
  clientCpu.clear();

  const samples = await alternate(runs);

  // A cross-check that other loads on a shared machine cannot tilt: every
  // variant loaded at the same time (the same total of connections, shared),
  // so interference hits all alike; req/s relative to no auth, per round.
  const simultaneous = new Map<string, number[]>();
  for (let round = 0; round < (SMOKE ? 1 : 3); round++) {
    const connections = Math.max(1, Math.floor(CONNECTIONS / variants.length));
    const rates = await Promise.all(loaders.map((load) => load(connections, DURATION_MS)));
    variants.forEach((v, i) => simultaneous.set(v.name, [...(simultaneous.get(v.name) ?? []), rates[i]! / rates[0]!]));
  }

  // The gates alone, in process, per call (what the listener adds around them is the same for all).
  const gateUs = async (gate: RequestGate, authorizations: readonly (string | undefined)[], calls: number) => {
    const contexts = authorizations.map(
      (authorization) =>
        ({
          service: FileService,
          requestHeader: new Headers(authorization === undefined ? {} : { authorization }),
          values: createContextValues(),
        }) as unknown as HandlerContext,
    );
    const start = performance.now();
    for (let i = 0; i < calls; i++) await gate(contexts[i % contexts.length]!);
    return ((performance.now() - start) * 1000) / calls;
  };
  const gateCosts: Record<string, number> = {};
  for (const v of variants) {
    v.before?.();
    const authorizations = v.authorizations ?? [v.authorization];
    const calls = SMOKE ? 200 : v.authorizations ? DISTINCT_TOKENS : 20_000;
    await gateUs(v.gate, authorizations, Math.min(calls, 200)); // warm-up (for the worst case: its first tokens, remembered after)
    v.before?.();
    gateCosts[v.name] = Math.round((await gateUs(v.gate, authorizations, calls)) * 10) / 10;
  }
  const baseCpu = median(cpuUsPerRequest.get(NO_AUTH)!);
  await report(
    summarize(
      {
        scenario: "jwt-cost",
        unit: "req/s",
        higherIsBetter: true,
        baseline: NO_AUTH,
        goal: ">= 0.91x (JWT verification costs <= 10%)",
        extra: {
          call: `Connect JSON GetFile over HTTP/1.1 keep-alive, ${CONNECTIONS} connections, ${DURATION_MS} ms per sample`,
          "server CPU us per request (median), by variant": Object.fromEntries(
            [...cpuUsPerRequest].map(([name, xs]) => [name, Math.round(median(xs))]),
          ),
          "server CPU per request vs no auth": Object.fromEntries(
            [...cpuUsPerRequest].map(([name, xs]) => [name, `${median(xs) >= baseCpu ? "+" : ""}${((median(xs) / baseCpu - 1) * 100).toFixed(1)}%`]),
          ),
          "all variants loaded at once: req/s vs no auth (median of rounds)": Object.fromEntries(
            [...simultaneous].map(([name, xs]) => [name, `${median(xs).toFixed(3)}x (${xs.map((x) => x.toFixed(3)).join(", ")})`]),
          ),
          "gate alone, in process, us per call": gateCosts,
          "load generator CPU us per call (median)": Object.fromEntries([...clientCpu].map(([name, xs]) => [name, Math.round(median(xs))])),
          "JWKS fetches (after warm-up / in total; the worst case's new verifiers fetch once per run)": `${fetchesAfterWarmup} / ${jwksFetches}`,
        },
      },
      samples,
    ),
  );
} finally {
  for (const { app } of servers) await app.close();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  await repository.close();
  objects.close();
  await tracing.shutdown();
  await db.drop();
}
