// The FileService handlers in process, as connect-es tests its own: a
// createRouterTransport over the real handlers, the real error edge
// (rpcBoundary) and a request gate that sets the principal the test names, on
// the SQLite repository (or the in-memory fake) and the local object store in
// a temp folder. No socket, no MariaDB, no S3 server: domain tests run in
// milliseconds, and a test can wrap the repository or the store to make a
// dependency fail at a chosen statement.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createClient, createRouterTransport, type Client, type HandlerContext } from "@connectrpc/connect";
import { FileService, type PresignedUpload } from "../../gen/file/v1/file_service_pb.js";
import { createFileService, type FileServiceDeps } from "../../src/files/file-service.js";
import type { FileRepository } from "../../src/domain/file-repository.js";
import { createSqliteFileRepository } from "../../src/db/sqlite/sqlite-file-repository.js";
import { createLocalObjectStore, type LocalObjectStore, type UploadResult } from "../../src/storage/local/local-object-store.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import { kPrincipal, type Principal } from "../../src/auth/principal.js";
import { rpcBoundary } from "../../src/transport/rpc-interceptors.js";
import { createLogger } from "../../src/observability/logger.js";
import { createFakeRepository } from "./fake-repository.js";
import type { FileEvent } from "../../src/events/file-event.js";
import type { EventSink } from "../../src/events/event-sink.js";
import { purgeObjects } from "../../src/tasks/purge-objects.js";
import { quarantineObjects } from "../../src/tasks/quarantine-objects.js";
import { deliverEvents, publishEvents } from "../../src/tasks/publish-events.js";

/** Who the in-process client calls as: a header the test gate reads (never a real listener's). */
const PRINCIPAL_HEADER = "x-test-principal";

export interface InProcessOptions {
  /** The SQLite repository (default), or the in-memory fake. */
  repository?: "sqlite" | "fake";
  /** Wraps the repository the handlers use (e.g. to fail a chosen call). */
  wrapFiles?: (files: FileRepository) => FileRepository;
  /** Wraps the object store the handlers use. */
  wrapObjects?: (objects: ObjectStore) => ObjectStore;
  /** Replaces parts of the handlers' dependencies. */
  deps?: Partial<FileServiceDeps>;
}

export interface InProcess {
  dir: string;
  /** The repository itself (unwrapped), to look at what was stored. */
  files: FileRepository;
  /** The local store itself (unwrapped). */
  objects: LocalObjectStore;
  /** What the handlers were given. */
  deps: FileServiceDeps;
  /** A client calling as the backend service `name`, which names the owner in each request. */
  asService(name?: string): Client<typeof FileService>;
  /** A client calling as the user `subject`. */
  asUser(subject: string): Client<typeof FileService>;
  /**
   * Runs the outbox's due tasks (purges, events) until none is due at `at`
   * (or now, if later), as the task worker would; events go to `events`.
   * Returns how many ran.
   */
  runTasks(at?: Date): Promise<number>;
  /** The events the outbox delivered so far (runTasks). */
  events: FileEvent[];
  /** PUTs bytes to a presigned upload, as a client would, through the store's own request handling. */
  put(upload: PresignedUpload, bytes: Uint8Array, headers?: Record<string, string>): Promise<UploadResult>;
  close(): Promise<void>;
}

export async function startInProcess(options: InProcessOptions = {}): Promise<InProcess> {
  const dir = await mkdtemp(join(tmpdir(), "fs-in-process-"));
  const files = options.repository === "fake" ? createFakeRepository() : await createSqliteFileRepository(join(dir, "files.db"));
  const objects = await createLocalObjectStore({ dir: join(dir, "objects"), publicUrl: "http://in-process.invalid", secret: "in-process-url-signing-key-of-32-bytes" });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const deps: FileServiceDeps = {
    files: options.wrapFiles ? options.wrapFiles(files) : files,
    objects: options.wrapObjects ? options.wrapObjects(objects) : objects,
    settings: {
      maxFilesPerBatch: 10,
      maxFileSizeBytes: 10 * 1024 * 1024,
      maxCoverPhotoSizeBytes: 20 * 1024 * 1024,
      uploadUrlTtlSeconds: 900,
      downloadUrlTtlSeconds: 900,
      uploadExpiryGraceSeconds: 3600,
      idempotencyWindowSeconds: 86_400,
      uploadTmpDir: join(dir, "uploads"),
    },
    images: { webpQuality: 82, maxPixels: 50_000_000 },
    retry: { maxAttempts: 3, retryBaseMs: 10 },
    processing: { workerId: "in-process-worker", leaseMs: 60_000, notify: () => {} },
    log,
    ...options.deps,
  };
  const service = createFileService(deps);
  // One transport per caller: its client interceptor names the principal, the
  // router's gate (standing in for mTLS or JWT) takes it from there.
  const clientAs = (principal: string) =>
    createClient(
      FileService,
      createRouterTransport((router) => router.service(FileService, service), {
        transport: {
          interceptors: [
            (next) => (req) => {
              req.header.set(PRINCIPAL_HEADER, principal);
              return next(req);
            },
          ],
        },
        // As the listeners compose it (src/transport/listeners.ts), the call clock at its default.
        router: { interceptors: [rpcBoundary(log, { callTimeoutMs: 30_000 })], requestGate: testGate },
      }),
    );

  const events: FileEvent[] = [];
  const sink: EventSink = { name: "in-process", deliver: async (event) => void events.push(event) };
  const handlers = {
    purge: purgeObjects({ files: deps.files, objects: deps.objects }),
    publish: publishEvents({ files: deps.files, sinks: [sink] }),
    deliver: deliverEvents({ sinks: [sink] }),
    quarantine: quarantineObjects({ files: deps.files, objects: deps.objects }),
  };

  return {
    dir,
    files,
    objects,
    deps,
    events,
    async runTasks(at) {
      let ran = 0;
      for (;;) {
        // Follow-up tasks are due when made: never earlier than the clock.
        const now = new Date(Math.max(at?.getTime() ?? 0, Date.now()));
        const due = await files.claimTasks({ workerId: "in-process", leaseMs: 60_000, limit: 10, now, kinds: ["purge", "publish", "deliver", "quarantine"] });
        if (due.length === 0) return ran;
        for (const task of due) {
          ran++;
          try {
            const followUps = await handlers[task.kind].run(task);
            await files.completeTask(task.id, "in-process", followUps ?? []);
          } catch (e) {
            // Retried a minute later: a later runTasks(now + 1 min) tries it again.
            await files.failTask(task.id, "in-process", e instanceof Error ? e.message : String(e), new Date(now.getTime() + 60_000));
          }
        }
      }
    },
    asService: (name = "hangout") => clientAs(`service:${name}`),
    asUser: (subject) => clientAs(`user:${subject}`),
    put(upload, bytes, headers = upload.headers) {
      const url = new URL(upload.url);
      return objects.acceptUpload({
        target: url.pathname + url.search,
        headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
        body: Readable.from([Buffer.from(bytes)]),
      });
    },
    async close() {
      await files.close();
      objects.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Sets the principal the test named: `service:<name>` or `user:<subject>`. */
function testGate(context: HandlerContext): void {
  const [kind, name = ""] = (context.requestHeader.get(PRINCIPAL_HEADER) ?? "").split(":", 2);
  const principal: Principal | undefined =
    kind === "service" ? { kind: "service", name } : kind === "user" ? { kind: "user", subject: name } : undefined;
  if (principal !== undefined) context.values.set(kPrincipal, principal);
}
