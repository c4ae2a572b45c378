// Spans and latency metrics around the repository and the object store.
//
// Proxies rather than copies: an implementation's extra members (e.g. the local
// store's methods used by its HTTP routes) stay reachable, untouched. Methods
// are invoked on the original object, so they may be called detached
// (`const { head } = store`) and may rely on `this` (class private fields too).
import { SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import type { FileRepository } from "../domain/file-repository.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { Dependency, Metrics, Outcome } from "./metrics.js";
import { wrapMethods } from "../shared/wrap-methods.js";

export interface DependencyTelemetry {
  tracer: Tracer;
  /**
   * Whether spans are exported (Tracing.exporting). When they are not, no span is
   * made per call: a child of the RPC's span would only carry the RPC's trace id,
   * which log lines already read from the RPC's span. Default true.
   */
  traced?: boolean;
  metrics: Pick<Metrics, "dependencyDuration">;
  /** Span attribute naming the implementation, e.g. "mysql", "sqlite" (db.system) or "s3", "local". */
  system?: string;
}

interface Operation {
  kind: SpanKind;
  attributes?: Attributes;
}

const NETWORK: Operation = { kind: SpanKind.CLIENT };
// Signing a URL is local computation: timed (to see it is cheap) but not a call to the store.
const LOCAL: Operation = { kind: SpanKind.INTERNAL, attributes: { "object_store.network": false } };

// Every contract method but close(): a method added to the interface fails to compile here until it is listed.
const REPOSITORY_OPERATIONS: Record<Exclude<keyof FileRepository, "close">, Operation> = {
  insertPending: NETWORK,
  insertUploaded: NETWORK,
  findByIds: NETWORK,
  findByContentHash: NETWORK,
  markUploaded: NETWORK,
  markDeleted: NETWORK,
  list: NETWORK,
  countByStatus: NETWORK,
  requestProcessing: NETWORK,
  claimProcessing: NETWORK,
  completeProcessing: NETWORK,
  failProcessing: NETWORK,
  requeueUnqueued: NETWORK,
  fulfilIntent: NETWORK,
  abandonIntent: NETWORK,
  findByIdempotencyKey: NETWORK,
  releaseIdempotencyKey: NETWORK,
  recordScan: NETWORK,
  quarantine: NETWORK,
  expireDue: NETWORK,
  storedObjects: NETWORK,
  statusesOf: NETWORK,
  pageByStatus: NETWORK,
  markMissing: NETWORK,
  claimTasks: NETWORK,
  completeTask: NETWORK,
  failTask: NETWORK,
  enqueueTasks: NETWORK,
  listTasks: NETWORK,
  requeueTasks: NETWORK,
  taskStats: NETWORK,
  ping: NETWORK,
};

const OBJECT_STORE_OPERATIONS: Record<Exclude<keyof ObjectStore, "close">, Operation> = {
  presignPut: LOCAL,
  presignGet: LOCAL,
  head: NETWORK,
  get: NETWORK,
  put: NETWORK,
  delete: NETWORK,
  move: NETWORK,
  list: NETWORK,
  ping: NETWORK,
};

/** CLIENT span `db.<method>` and dependencyDuration{dependency="database"} per call. */
export function instrumentRepository<R extends FileRepository>(repo: R, t: DependencyTelemetry): R {
  return instrument(repo, REPOSITORY_OPERATIONS, t, {
    dependency: "database",
    spanPrefix: "db",
    systemAttribute: "db.system",
    operationAttribute: "db.operation.name",
  });
}

/** Span `object_store.<method>` (CLIENT; INTERNAL for presigning) and dependencyDuration{dependency="object_store"} per call. */
export function instrumentObjectStore<S extends ObjectStore>(store: S, t: DependencyTelemetry): S {
  return instrument(store, OBJECT_STORE_OPERATIONS, t, {
    dependency: "object_store",
    spanPrefix: "object_store",
    systemAttribute: "object_store.system",
    operationAttribute: "object_store.operation",
  });
}

interface Naming {
  dependency: Dependency;
  spanPrefix: string;
  systemAttribute: string;
  operationAttribute: string;
}

function instrument<T extends object>(
  target: T,
  operations: Readonly<Record<string, Operation>>,
  t: DependencyTelemetry,
  naming: Naming,
): T {
  // Same function on every access, so identity checks and listeners behave.
  return wrapMethods(target, (name, original) => {
    const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
    if (operation === undefined) return original.bind(target);
    const attributes: Attributes = { [naming.operationAttribute]: name, ...operation.attributes };
    if (t.system !== undefined) attributes[naming.systemAttribute] = t.system;
    const spanName = `${naming.spanPrefix}.${name}`;
    const labels = { ok: { dependency: naming.dependency, operation: name, outcome: "ok" as Outcome }, error: { dependency: naming.dependency, operation: name, outcome: "error" as Outcome } };
    /** The call, timed; its failure marks the span, if any. */
    const timed = async (args: unknown[], span?: Span) => {
      const started = performance.now();
      let outcome: Outcome = "ok";
      try {
        return await original.apply(target, args);
      } catch (error) {
        outcome = "error";
        // The type only: a driver's message can quote the statement and its parameters (user data).
        span?.setAttribute("error.type", errorType(error));
        span?.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span?.end();
        t.metrics.dependencyDuration.observe(labels[outcome], (performance.now() - started) / 1000);
      }
    };
    // Without an exporter, the histogram alone: about 2 µs a call less (bench/lib/get-file-layers.ts).
    if (t.traced === false) return (...args: unknown[]) => timed(args);
    return (...args: unknown[]) => t.tracer.startActiveSpan(spanName, { kind: operation.kind, attributes }, (span) => timed(args, span));
  });
}

export function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
