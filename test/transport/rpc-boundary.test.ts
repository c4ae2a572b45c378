// The RPC error edge: domain errors reach the caller as their Code, also when a
// server stream fails after it has begun; anything else is a bare Internal.
import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { FileError } from "../../src/domain/errors.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";
import { createLogger } from "../../src/observability/logger.js";
import { pino } from "pino";
import { rpcTelemetry } from "../../src/observability/rpc-telemetry.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing, currentTraceId } from "../../src/observability/tracing.js";

function healthThat(watch: () => AsyncGenerator<{ status: HealthCheckResponse_ServingStatus }>) {
  const transport = createRouterTransport(
    (router) => router.service(Health, { check: async () => ({ status: HealthCheckResponse_ServingStatus.SERVING }), watch }),
    { router: { interceptors: [rpcBoundary(createLogger("silent"))] } },
  );
  return createClient(Health, transport);
}

async function streamError(client: ReturnType<typeof healthThat>): Promise<{ received: number; error: ConnectError }> {
  let received = 0;
  try {
    for await (const _ of client.watch({})) received++;
  } catch (e) {
    return { received, error: ConnectError.from(e) };
  }
  throw new Error("the stream ended without an error");
}

describe("rpcBoundary on a server stream", () => {
  it("maps a FileError thrown after the first message to its Code and message", async () => {
    const { received, error } = await streamError(
      healthThat(async function* () {
        yield { status: HealthCheckResponse_ServingStatus.SERVING };
        throw new FileError("failed_precondition", "file x was deleted");
      }),
    );
    expect(received).toBe(1);
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("file x was deleted");
  });

  it("hides an unexpected error behind a bare Internal", async () => {
    const { error } = await streamError(
      // eslint-disable-next-line require-yield
      healthThat(async function* () {
        throw new Error("SELECT * FROM secrets failed");
      }),
    );
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
  });
});

describe("rpcBoundary inside rpcTelemetry without an active context (no exporter)", () => {
  it("writes the RPC's trace id, the caller's when given, on its rpc and error lines; handlers see no active span", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const tracing = createTracing({ serviceName: "boundary-test" });
    const seen: Array<string | undefined> = [];
    const transport = createRouterTransport(
      (router) =>
        router.service(Health, {
          check: async () => {
            seen.push(currentTraceId());
            throw new Error("SELECT * FROM secrets failed");
          },
          async *watch() {},
        }),
      {
        router: {
          interceptors: [
            rpcTelemetry({ tracer: tracing.tracer, metrics: createMetrics(), transport: "internal", activateContext: false }),
            rpcBoundary(log),
          ],
        },
      },
    );
    const client = createClient(Health, transport);
    const caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    await expect(client.check({}, { headers: { traceparent: `00-${caller}-00f067aa0ba902b7-01` } })).rejects.toMatchObject({ code: Code.Internal });
    await expect(client.check({})).rejects.toMatchObject({ code: Code.Internal });

    expect(seen).toEqual([undefined, undefined]);
    const rpcLines = lines.filter((l) => l.msg === "rpc");
    expect(rpcLines.map((l) => l.traceId)).toEqual([caller, expect.stringMatching(/^[0-9a-f]{32}$/)]);
    expect(rpcLines[1]!.traceId).not.toBe(caller);
    // The cause goes to its own error line, with the same id.
    const errorLines = lines.filter((l) => l.level === 50);
    expect(errorLines.map((l) => l.traceId)).toEqual(rpcLines.map((l) => l.traceId));
    await tracing.shutdown();
  });
});
