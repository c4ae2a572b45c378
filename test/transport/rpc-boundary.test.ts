// The RPC error edge: domain errors reach the caller as their Code, also when a
// server stream fails after it has begun; anything else is a bare Internal.
import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { FileError } from "../../src/domain/errors.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";
import { createLogger } from "../../src/observability/logger.js";

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
