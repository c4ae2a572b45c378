// createMetrics: its own registry, the files gauge filled at scrape time.
import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createMysqlFileRepository } from "../../src/db/mysql/mysql-file-repository.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/** The value of the sample `name{labels}` in Prometheus text, or undefined. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("registry", () => {
  it("is per instance, with process metrics and the service's metrics", async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.uploadedBytes.inc(1234);
    a.rpcRequests.inc({ method: "x.v1.S/M", code: "ok", transport: "public" });

    const [ra, rb] = [await a.render(), await b.render()];
    expect(ra.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(sample(ra.body, "file_service_uploaded_bytes_total")).toBe(1234);
    expect(sample(rb.body, "file_service_uploaded_bytes_total")).toBe(0);
    expect(sample(ra.body, 'file_service_rpc_requests_total{method="x.v1.S/M",code="ok",transport="public"}')).toBe(1);
    expect(rb.body).not.toContain('method="x.v1.S/M"');
    for (const { body } of [ra, rb]) {
      expect(body).toContain("# TYPE process_cpu_user_seconds_total counter");
      expect(body).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
      expect(body).toContain("# TYPE file_service_dependency_duration_seconds histogram");
    }
  });

  it("applies the prefix to the service's metrics", async () => {
    const { body } = await createMetrics({ prefix: "fs_" }).render();
    expect(body).toContain("# TYPE fs_rpc_requests_total counter");
    expect(body).toContain("# TYPE fs_rpc_duration_seconds histogram");
    expect(body).toContain("# TYPE fs_files gauge");
    expect(body).not.toContain("file_service_");
  });

  it("has buckets from milliseconds to seconds", async () => {
    const metrics = createMetrics();
    metrics.rpcDuration.observe({ method: "m", code: "ok", transport: "internal" }, 0.003);
    const { body } = await metrics.render();
    const bucket = (le: string) =>
      sample(body, `file_service_rpc_duration_seconds_bucket{le="${le}",method="m",code="ok",transport="internal"}`);
    expect(bucket("0.001")).toBe(0);
    expect(bucket("0.005")).toBe(1);
    expect(bucket("10")).toBe(1);
  });
});

describe("files gauge", () => {
  it("has no samples until a source is registered", async () => {
    const { body } = await createMetrics().render();
    expect(body).toContain("# TYPE file_service_files gauge");
    expect(body).not.toMatch(/^file_service_files\{/m);
  });

  it("reads the source at each scrape and keeps the last values when it fails", async () => {
    const metrics = createMetrics();
    let counts: Record<string, number> | Error = { pending: 2, uploaded: 5, deleted: 1 };
    metrics.trackFileCounts(async () => {
      if (counts instanceof Error) throw counts;
      return counts;
    });

    let { body } = await metrics.render();
    expect(sample(body, 'file_service_files{status="pending"}')).toBe(2);
    expect(sample(body, 'file_service_files{status="uploaded"}')).toBe(5);

    counts = { pending: 3, uploaded: 6, deleted: 1 };
    ({ body } = await metrics.render());
    expect(sample(body, 'file_service_files{status="pending"}')).toBe(3);

    counts = new Error("database down");
    ({ body } = await metrics.render());
    expect(sample(body, 'file_service_files{status="pending"}')).toBe(3);
    expect(sample(body, 'file_service_files{status="uploaded"}')).toBe(6);
    expect(body).toContain("# TYPE file_service_rpc_requests_total counter");
  });

  it("survives a source that throws synchronously, and refreshes again afterwards", async () => {
    const metrics = createMetrics();
    metrics.trackFileCounts(() => {
      throw new Error("not even a promise");
    });
    await expect(metrics.render()).resolves.toBeDefined();

    metrics.trackFileCounts(async () => ({ pending: 7 }));
    const { body } = await metrics.render();
    expect(sample(body, 'file_service_files{status="pending"}')).toBe(7);
  });

  it("gives up on a source that hangs, without failing the scrape", async () => {
    const metrics = createMetrics();
    metrics.trackFileCounts(async () => ({ pending: 1 }));
    await metrics.render();
    metrics.trackFileCounts(() => new Promise<Record<string, number>>(() => {}));

    const started = performance.now();
    const { body } = await metrics.render();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(sample(body, 'file_service_files{status="pending"}')).toBe(1);
  });

  it("shares one source call between concurrent scrapes", async () => {
    const metrics = createMetrics();
    let calls = 0;
    metrics.trackFileCounts(async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { pending: calls };
    });
    await Promise.all([metrics.render(), metrics.render(), metrics.render()]);
    expect(calls).toBe(1);
    await metrics.render();
    expect(calls).toBe(2);
  });

  describe("from the MySQL repository", () => {
    let database: TestDatabase;
    let repo: FileRepository;

    beforeAll(async () => {
      database = await createTestDatabase();
      repo = createMysqlFileRepository(database.url, { connectionLimit: 2 });
    });
    afterAll(async () => {
      await repo?.close();
      await database?.drop();
    });

    it("counts records by status, and keeps them once the database is gone", async () => {
      const owner = `owner-${randomUUID()}`;
      const ids = [uuidv7(), uuidv7(), uuidv7()];
      await repo.insertPending(
        ids.map((id) => ({
          id,
          ownerId: owner,
          filename: "a.png",
          contentType: "image/png",
          sizeBytes: 1,
          md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
          objectKey: `${owner}/${id}`,
          createdAt: new Date(),
          purpose: "unspecified" as const,
        })),
      );
      await repo.markUploaded(owner, [ids[0]!], new Date());
      const metrics = createMetrics();
      metrics.trackFileCounts(() => repo.countByStatus());

      let { body } = await metrics.render();
      expect(sample(body, 'file_service_files{status="pending"}')).toBe(2);
      expect(sample(body, 'file_service_files{status="uploaded"}')).toBe(1);
      expect(sample(body, 'file_service_files{status="deleted"}')).toBe(0);

      await repo.close();
      ({ body } = await metrics.render());
      expect(sample(body, 'file_service_files{status="pending"}')).toBe(2);
    });
  });
});
