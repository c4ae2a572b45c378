// Settings → the persistence and storage backends: MySQL or embedded SQLite,
// S3 or local disk. The local store also needs HTTP routes on the public
// listener, since its presigned URLs point at the service itself.
import type { FastifyPluginAsync } from "fastify";
import type { Config } from "./config.js";
import type { FileRepository } from "./domain/file-repository.js";
import type { ObjectStore } from "./storage/object-store.js";
import { resolveUrlSigningKey } from "./dev/bootstrap.js";

export interface Backends {
  files: FileRepository;
  objects: ObjectStore;
  /** HTTP routes the object store serves itself (local disk only). */
  objectRoutes?: FastifyPluginAsync;
}

// Each backend's module (and its driver) is loaded only when it is the one
// configured: a production process never loads libSQL, a zero-setup one never
// the AWS SDK or mysql2 (measured: bench/scenarios/footprint.ts).
export async function openBackends(config: Config): Promise<Backends> {
  const files = await openRepository(config);
  if (config.objects.kind === "s3") {
    const { createS3ObjectStore } = await import("./storage/s3/s3-object-store.js");
    return { files, objects: createS3ObjectStore(config.objects) };
  }
  const [{ createLocalObjectStore }, { objectRoutes }] = await Promise.all([
    import("./storage/local/local-object-store.js"),
    import("./transport/object-routes.js"),
  ]);
  const store = await createLocalObjectStore({
    dir: config.objects.dir,
    publicUrl: config.objects.publicUrl ?? `${config.publicTls ? "https" : "http"}://localhost:${config.httpPort}`,
    secret: await resolveUrlSigningKey(config.dataDir),
  });
  return { files, objects: store, objectRoutes: objectRoutes(store) };
}

/** The configured database's repository alone (operator commands such as npm run tasks need no store). */
export async function openRepository(config: Config): Promise<FileRepository> {
  return config.database.kind === "mysql"
    ? (await import("./db/mysql/mysql-file-repository.js")).createMysqlFileRepository(config.database.url, { queryTimeoutMs: config.database.queryTimeoutMs })
    : (await import("./db/sqlite/sqlite-file-repository.js")).createSqliteFileRepository(config.database.file);
}
