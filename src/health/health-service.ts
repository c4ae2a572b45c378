// grpc.health.v1.Health over the health monitor: Check answers at once from
// the last probe; Watch streams every change until the client leaves or the
// server drains. Open to unauthenticated callers (load balancers, orchestrators).
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthMonitor, HealthSnapshot } from "./health-monitor.js";

/** "" is the whole server, by gRPC convention. */
const KNOWN_SERVICES = new Set(["", FileService.typeName, Health.typeName]);

function statusOf(snapshot: HealthSnapshot): ServingStatus {
  return snapshot.serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
}

export function createHealthService(monitor: HealthMonitor): ServiceImpl<typeof Health> {
  return {
    check(req) {
      if (!KNOWN_SERVICES.has(req.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return { status: statusOf(monitor.snapshot()) };
    },

    async *watch(req, context) {
      // Per the protocol, an unknown service is not an error for Watch.
      if (!KNOWN_SERVICES.has(req.service)) {
        yield { status: ServingStatus.SERVICE_UNKNOWN };
        return;
      }
      const queue: ServingStatus[] = [statusOf(monitor.snapshot())];
      let wake: (() => void) | undefined;
      const unsubscribe = monitor.subscribe((s) => {
        queue.push(statusOf(s));
        wake?.();
      });
      const ended = new Promise<void>((resolve) => {
        context.signal.addEventListener("abort", () => resolve(), { once: true });
        void monitor.drained.then(() => setImmediate(resolve));
      });
      try {
        for (;;) {
          while (queue.length > 0) yield { status: queue.shift()! };
          const stop = await Promise.race([ended.then(() => true), new Promise<false>((r) => (wake = () => r(false)))]);
          if (stop && queue.length === 0) return;
        }
      } finally {
        unsubscribe();
      }
    },
  };
}
