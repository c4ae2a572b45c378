// instrumentRepository / instrumentObjectStore over the real MySQL repository
// and the real S3 store (s3rver), plus stores that fail for real (nothing listens).
import { randomUUID } from "node:crypto";
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { NewFileRecord } from "../../src/domain/file.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createMysqlFileRepository } from "../../src/db/mysql/mysql-file-repository.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { instrumentObjectStore, instrumentRepository } from "../../src/observability/instrument.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import { createTracing, type Tracing } from "../../src/observability/tracing.js";
import type { ObjectInfo,
  ObjectPage, ObjectStore, PresignedRequest, PresignGetInput, PresignPutInput, PutObjectInput } from "../../src/storage/object-store.js";
import { createS3ObjectStore } from "../../src/storage/s3/s3-object-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startS3Server, type S3Server } from "../support/s3-server.js";

// Nothing listens on port 1: connections are refused at once.
const UNREACHABLE = "127.0.0.1:1";

let exporter: InMemorySpanExporter;
let tracing: Tracing;
let metrics: Metrics;
let database: TestDatabase;
let s3: S3Server;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = createTracing({ serviceName: "instrument-test", exporter });
  [database, s3] = await Promise.all([createTestDatabase(), startS3Server()]);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await Promise.all([database?.drop(), s3?.stop()]);
  await tracing?.shutdown();
});

beforeEach(() => {
  exporter.reset();
  metrics = createMetrics();
});

const telemetry = (system?: string) => ({ tracer: tracing.tracer, metrics, system });

function mysqlRepository(url: string): FileRepository {
  const repo = createMysqlFileRepository(url, { connectionLimit: 2 });
  closers.push(() => repo.close());
  return repo;
}

function s3Store(endpoint: string): ObjectStore {
  const store = createS3ObjectStore({ bucket: s3.bucket, region: "us-east-1", endpoint, forcePathStyle: true });
  closers.push(() => store.close());
  return store;
}

/** Runs `work` inside an active parent span; returns the parent's span id. */
async function underParent(work: () => Promise<unknown>): Promise<string> {
  return tracing.tracer.startActiveSpan("parent", async (parent: Span) => {
    try {
      await work();
    } finally {
      parent.end();
    }
    return parent.spanContext().spanId;
  });
}

async function spans(): Promise<ReadableSpan[]> {
  await tracing.flush();
  return exporter.getFinishedSpans();
}

function spanNamed(all: ReadableSpan[], name: string): ReadableSpan {
  const span = all.find((s) => s.name === name);
  if (span === undefined) throw new Error(`no span ${name} among ${all.map((s) => s.name).join(", ")}`);
  return span;
}

/** How many observations dependencyDuration has for these labels. */
async function observations(labels: { dependency: string; operation: string; outcome: string }): Promise<number> {
  const { values } = await metrics.dependencyDuration.get();
  const match = values.find(
    (v) =>
      v.metricName?.endsWith("_count") &&
      v.labels.dependency === labels.dependency &&
      v.labels.operation === labels.operation &&
      v.labels.outcome === labels.outcome,
  );
  return match?.value ?? 0;
}

function newRecord(ownerId: string): NewFileRecord {
  const id = uuidv7();
  return {
    id,
    ownerId,
    filename: "a.png",
    contentType: "image/png",
    sizeBytes: 10,
    md5: "1B2M2Y8AsgTpgAmY7PhCfg==",
    objectKey: `${ownerId}/${id}`,
    createdAt: new Date(),
    purpose: "unspecified",
  };
}

describe("instrumentRepository over MySQL", () => {
  it("makes a CLIENT child span and an ok observation per call, results unchanged", async () => {
    const repo = instrumentRepository(mysqlRepository(database.url), telemetry("mysql"));
    const owner = `owner-${randomUUID()}`;
    const record = newRecord(owner);
    let found: unknown;

    const parentId = await underParent(async () => {
      await repo.insertPending([record]);
      found = await repo.findByIds(owner, [record.id]);
    });

    expect(found).toMatchObject([{ id: record.id, status: "pending" }]);
    const all = await spans();
    for (const name of ["db.insertPending", "db.findByIds"]) {
      const span = spanNamed(all, name);
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.parentSpanContext?.spanId).toBe(parentId);
      expect(span.attributes["db.system"]).toBe("mysql");
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(spanNamed(all, "db.findByIds").attributes["db.operation.name"]).toBe("findByIds");
    expect(await observations({ dependency: "database", operation: "insertPending", outcome: "ok" })).toBe(1);
    expect(await observations({ dependency: "database", operation: "findByIds", outcome: "ok" })).toBe(1);
  });

  it("observes outcome=error and marks the span when the database is unreachable", async () => {
    const repo = instrumentRepository(mysqlRepository(`mysql://root@${UNREACHABLE}/none`), telemetry("mysql"));

    await underParent(() => expect(repo.ping()).rejects.toBeInstanceOf(DependencyUnavailableError));

    const span = spanNamed(await spans(), "db.ping");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes["error.type"]).toBe("DependencyUnavailableError");
    expect(await observations({ dependency: "database", operation: "ping", outcome: "error" })).toBe(1);
    expect(await observations({ dependency: "database", operation: "ping", outcome: "ok" })).toBe(0);
  });

  it("without an exporter (traced: false) makes no spans but still observes each call and its outcome", async () => {
    const repo = instrumentRepository(mysqlRepository(database.url), { ...telemetry("mysql"), traced: false });
    const failing = instrumentRepository(mysqlRepository(`mysql://root@${UNREACHABLE}/none`), { ...telemetry("mysql"), traced: false });
    const owner = `owner-${randomUUID()}`;
    const record = newRecord(owner);

    await underParent(async () => {
      await repo.insertPending([record]);
      expect(await repo.findByIds(owner, [record.id])).toMatchObject([{ id: record.id, status: "pending" }]);
      await expect(failing.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
    });

    expect((await spans()).map((s) => s.name)).toEqual(["parent"]);
    expect(await observations({ dependency: "database", operation: "insertPending", outcome: "ok" })).toBe(1);
    expect(await observations({ dependency: "database", operation: "findByIds", outcome: "ok" })).toBe(1);
    expect(await observations({ dependency: "database", operation: "ping", outcome: "error" })).toBe(1);
  });

  it("leaves close() alone", async () => {
    const repo = instrumentRepository(createMysqlFileRepository(database.url, { connectionLimit: 1 }), telemetry());
    await repo.close();
    expect(await spans()).toEqual([]);
  });
});

describe("instrumentObjectStore over S3", () => {
  it("makes child spans and ok observations; presigning is timed but marked local", async () => {
    const store = instrumentObjectStore(s3Store(s3.endpoint), telemetry("s3"));
    let info: ObjectInfo | null | undefined;

    const parentId = await underParent(async () => {
      await store.presignPut({
        key: "k",
        contentType: "image/png",
        contentLength: 3,
        contentMd5: "1B2M2Y8AsgTpgAmY7PhCfg==",
        expiresInSeconds: 60,
      });
      info = await store.head("missing-key");
      await store.ping();
    });

    expect(info).toBeNull(); // a missing object is an answer, not a failure
    const all = await spans();
    for (const name of ["object_store.presignPut", "object_store.head", "object_store.ping"]) {
      const span = spanNamed(all, name);
      expect(span.parentSpanContext?.spanId).toBe(parentId);
      expect(span.attributes["object_store.system"]).toBe("s3");
    }
    expect(spanNamed(all, "object_store.head").kind).toBe(SpanKind.CLIENT);
    const presign = spanNamed(all, "object_store.presignPut");
    expect(presign.kind).toBe(SpanKind.INTERNAL);
    expect(presign.attributes["object_store.network"]).toBe(false);
    for (const operation of ["presignPut", "head", "ping"]) {
      expect(await observations({ dependency: "object_store", operation, outcome: "ok" })).toBe(1);
    }
  });

  it("observes outcome=error when the store is unreachable", async () => {
    const store = instrumentObjectStore(s3Store(`http://${UNREACHABLE}`), telemetry("s3"));

    await underParent(() => expect(store.head("k")).rejects.toBeInstanceOf(DependencyUnavailableError));

    expect(spanNamed(await spans(), "object_store.head").status.code).toBe(SpanStatusCode.ERROR);
    expect(await observations({ dependency: "object_store", operation: "head", outcome: "error" })).toBe(1);
  });

  it("renders the dependency histogram with its labels", async () => {
    const store = instrumentObjectStore(s3Store(s3.endpoint), telemetry());
    await store.ping();
    const { body } = await metrics.render();
    expect(body).toContain(
      'file_service_dependency_duration_seconds_count{dependency="object_store",operation="ping",outcome="ok"} 1',
    );
  });
});

describe("wrapping", () => {
  // An implementation with state behind private fields and a method beyond the contract.
  class RecordingStore implements ObjectStore {
    readonly #inner: ObjectStore;
    readonly #heads: string[] = [];
    constructor(inner: ObjectStore) {
      this.#inner = inner;
    }
    presignPut(input: PresignPutInput): Promise<PresignedRequest> {
      return this.#inner.presignPut(input);
    }
    presignGet(input: PresignGetInput): Promise<PresignedRequest> {
      return this.#inner.presignGet(input);
    }
    head(key: string): Promise<ObjectInfo | null> {
      this.#heads.push(key);
      return this.#inner.head(key);
    }
    delete(keys: readonly string[]): Promise<string[]> {
      return this.#inner.delete(keys);
    }
    move(fromKey: string, to: { key: string; bucket?: string }): Promise<boolean> {
      return this.#inner.move(fromKey, to);
    }
    put(input: PutObjectInput): Promise<void> {
      return this.#inner.put(input);
    }
    get(key: string, range?: { start: number; end: number }): Promise<Buffer | null> {
      return this.#inner.get(key, range);
    }
    list(input: { prefix: string; cursor?: string; limit: number }): Promise<ObjectPage> {
      return this.#inner.list(input);
    }
    ping(): Promise<void> {
      return this.#inner.ping();
    }
    close(): void {
      this.#inner.close();
    }
    /** Not part of ObjectStore, as the local store's methods for its HTTP routes. */
    headsSoFar(): string[] {
      return [...this.#heads];
    }
  }

  it("keeps extra methods and `this`, and works with detached methods", async () => {
    const store = instrumentObjectStore(new RecordingStore(s3Store(s3.endpoint)), telemetry());

    const { head, headsSoFar } = store;
    expect(await head("a")).toBeNull();
    expect(await store.head("b")).toBeNull();
    expect(headsSoFar()).toEqual(["a", "b"]);
    expect(store.headsSoFar()).toEqual(["a", "b"]);
    expect(store.head).toBe(store.head); // stable identity
    expect((await spans()).filter((s) => s.name === "object_store.head")).toHaveLength(2);
    expect((await spans()).map((s) => s.name)).not.toContain("object_store.headsSoFar");
  });

  it("keeps extra members of a plain-object implementation", async () => {
    const base = s3Store(s3.endpoint);
    const extended = { ...base, label: "extended", describe: () => "extra" };
    const store = instrumentObjectStore(extended, telemetry());

    expect(store.label).toBe("extended");
    expect(store.describe()).toBe("extra");
    await store.ping();
    expect((await spans()).map((s) => s.name)).toEqual(["object_store.ping"]);
  });
});
