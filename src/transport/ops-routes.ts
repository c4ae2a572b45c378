// Plain HTTP endpoints for operators and orchestrators, on the public listener:
//   GET /healthz  the process is alive (always 200 while it can answer)
//   GET /readyz   dependencies answer and we are not draining (else 503)
//   GET /metrics  Prometheus text; behind a bearer token when METRICS_TOKEN is set
import { timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync } from "fastify";
import type { HealthMonitor } from "../health/health-monitor.js";

export interface OpsRoutesOptions {
  monitor: HealthMonitor;
  renderMetrics: () => Promise<{ contentType: string; body: string }>;
  metricsToken?: string;
}

export function opsRoutes(options: OpsRoutesOptions): FastifyPluginAsync {
  const { monitor, renderMetrics, metricsToken } = options;
  return async (app) => {
    app.get("/healthz", async (_req, reply) => {
      reply.header("Cache-Control", "no-store");
      return { status: "alive" };
    });

    app.get("/readyz", async (_req, reply) => {
      const snapshot = monitor.snapshot();
      reply.code(snapshot.serving ? 200 : 503).header("Cache-Control", "no-store");
      return { status: snapshot.state, dependencies: snapshot.dependencies };
    });

    app.get("/metrics", async (req, reply) => {
      if (metricsToken !== undefined && !bearerMatches(req.headers.authorization, metricsToken)) {
        reply.code(401).header("WWW-Authenticate", 'Bearer realm="metrics"');
        return { error: "metrics need Authorization: Bearer <METRICS_TOKEN>" };
      }
      const { contentType, body } = await renderMetrics();
      reply.header("Content-Type", contentType).header("Cache-Control", "no-store");
      return body;
    });
  };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1] ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
