// grpc.health.v1.Health: SERVING only while the database and the object store
// both answer. Open to unauthenticated callers (load balancers, orchestrators).
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export interface DependencyProbe {
  name: string;
  ping(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;
/** "" is the whole server, by gRPC convention. */
const KNOWN_SERVICES = new Set(["", FileService.typeName, Health.typeName]);

export async function dependenciesServing(probes: readonly DependencyProbe[]): Promise<boolean> {
  const results = await Promise.allSettled(
    probes.map((p) => Promise.race([p.ping(), rejectAfter(PROBE_TIMEOUT_MS)])),
  );
  return results.every((r) => r.status === "fulfilled");
}

export function createHealthService(probes: readonly DependencyProbe[]): Partial<ServiceImpl<typeof Health>> {
  return {
    async check(req) {
      if (!KNOWN_SERVICES.has(req.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      if (req.service === Health.typeName) return { status: ServingStatus.SERVING };
      return { status: (await dependenciesServing(probes)) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING };
    },
  };
}

function rejectAfter(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("probe timed out")), ms).unref());
}
