// Settings → the persistence and storage backends: MySQL or embedded SQLite,
// S3 or local disk. The local store also needs HTTP routes on the public
// listener, since its presigned URLs point at the service itself.
import type { FastifyPluginAsync } from "fastify";
import type { Config } from "./config.js";
import type { FileRepository } from "./domain/file-repository.js";
import type { ObjectStore } from "./storage/object-store.js";
import { createMysqlFileRepository } from "./db/mysql/mysql-file-repository.js";
import { createSqliteFileRepository } from "./db/sqlite/sqlite-file-repository.js";
import { createS3ObjectStore } from "./storage/s3/s3-object-store.js";
import { createLocalObjectStore } from "./storage/local/local-object-store.js";
import { objectRoutes } from "./transport/object-routes.js";
import { resolveUrlSigningKey } from "./dev/bootstrap.js";

export interface Backends {
  files: FileRepository;
  objects: ObjectStore;
  /** HTTP routes the object store serves itself (local disk only). */
  objectRoutes?: FastifyPluginAsync;
}

export async function openBackends(config: Config): Promise<Backends> {
  const files =
    config.database.kind === "mysql"
      ? createMysqlFileRepository(config.database.url)
      : await createSqliteFileRepository(config.database.file);
  if (config.objects.kind === "s3") {
    return { files, objects: createS3ObjectStore(config.objects) };
  }
  const store = await createLocalObjectStore({
    dir: config.objects.dir,
    publicUrl: config.objects.publicUrl ?? `${config.publicTls ? "https" : "http"}://localhost:${config.httpPort}`,
    secret: await resolveUrlSigningKey(config.dataDir),
  });
  return { files, objects: store, objectRoutes: objectRoutes(store) };
}
