// What an operator relies on, against the real entry point on MySQL reached
// through a TCP proxy (so the database can stall or vanish on demand):
// health follows the database, and SIGTERM drains without dropping calls.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { startBackends, type Backends } from "../support/service.js";
import { startServiceOn, type ServiceProcess } from "../support/service-process.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { eventually } from "../support/poll.js";

let backends: Backends;
let proxy: TcpProxy;
beforeAll(async () => {
  backends = await startBackends();
  proxy = await startTcpProxy(Number(new URL(backends.db.url).port || 3306));
});
afterAll(async () => {
  await proxy?.close();
  await backends?.stop();
});

interface Running {
  service: ServiceProcess;
  httpUrl: string;
  sessions: Http2SessionManager;
  files: ReturnType<typeof createClient<typeof FileService>>;
  health: ReturnType<typeof createClient<typeof Health>>;
}
let running: Running | undefined;

async function start(env: Record<string, string> = {}): Promise<Running> {
  const dbUrl = new URL(backends.db.url);
  dbUrl.host = `127.0.0.1:${proxy.port}`;
  const { service, httpUrl, grpcTransport } = await startServiceOn(backends, {
    DATABASE_URL: dbUrl.toString(),
    HEALTH_INTERVAL_MS: "200",
    // The default drain delay unless a test sets one.
    SHUTDOWN_DRAIN_DELAY_MS: "1000",
    ...env,
  });
  const { transport, sessions } = grpcTransport();
  running = {
    service,
    httpUrl,
    sessions,
    files: createClient(FileService, transport),
    health: createClient(Health, transport),
  };
  return running;
}

afterEach(async () => {
  proxy.resume();
  proxy.restore();
  if (running) {
    running.sessions.abort();
    if (running.service.child.exitCode === null) {
      running.service.child.kill("SIGKILL");
      await running.service.exited;
    }
    running = undefined;
  }
});

async function readiness(httpUrl: string) {
  const res = await fetch(`${httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; dependencies: Record<string, { ok: boolean }> } };
}


describe("health follows the database", () => {
  it("goes NOT_SERVING when MySQL vanishes and SERVING when it returns: Check, Watch and /readyz", async () => {
    const { httpUrl, health, files } = await start();
    expect((await eventually(() => readiness(httpUrl), (r) => r.status === 200)).status).toBe(200);

    const watched: Status[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      try {
        for await (const res of health.watch({}, { signal: abort.signal })) watched.push(res.status);
      } catch (e) {
        if (ConnectError.from(e).code !== Code.Canceled) throw e;
      }
    })();
    await eventually(async () => watched, (w) => w.length >= 1);
    expect(watched[0]).toBe(Status.SERVING);

    proxy.cut();
    const down = await eventually(() => readiness(httpUrl), (r) => r.status === 503);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "degraded", dependencies: { database: { ok: false }, object_store: { ok: true } } });
    expect((await health.check({})).status).toBe(Status.NOT_SERVING);
    const refused = await files.listFiles({ ownerId: "o" }).catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.Unavailable);
    await eventually(async () => watched, (w) => w.includes(Status.NOT_SERVING));

    proxy.restore();
    expect((await eventually(() => readiness(httpUrl), (r) => r.status === 200)).body.status).toBe("serving");
    expect((await health.check({})).status).toBe(Status.SERVING);
    await eventually(async () => watched, (w) => w.at(-1) === Status.SERVING);
    expect(watched).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    expect((await files.listFiles({ ownerId: "o" })).files).toEqual([]);
    abort.abort();
    await watching;
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM reports draining, lets the in-flight call finish, then exits 0", async () => {
    const { service, httpUrl, files } = await start({ SHUTDOWN_DRAIN_DELAY_MS: "500" });
    await eventually(() => readiness(httpUrl), (r) => r.status === 200);

    proxy.pause(); // the database stalls: the next call stays in flight
    const inFlight = files.listFiles({ ownerId: "in-flight" });
    await new Promise((r) => setTimeout(r, 200));
    service.child.kill("SIGTERM");
    await service.waitFor(/shutting down/);

    const draining = await readiness(httpUrl);
    expect(draining.status).toBe(503);
    expect(draining.body.status).toBe("draining");

    // Past the drain delay the listeners are closing; the call is still waiting on the database.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(service.child.exitCode).toBeNull();
    proxy.resume();
    expect((await inFlight).files).toEqual([]);
    expect(await service.exited).toEqual({ code: 0, signal: null });
    await expect(fetch(`${httpUrl}/healthz`)).rejects.toThrow();
  });
});
