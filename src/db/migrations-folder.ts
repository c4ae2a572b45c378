// Where the drizzle-kit migrations are: `migrations/<dialect>` at the project's
// root, found by walking up from this module, so the same code finds them run
// from src/ (tsx), from the bundle in dist/ (npm run start:prod) and in the
// Docker image, wherever the working directory is.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export function migrationsFolder(dialect: "mysql" | "sqlite"): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, "migrations", dialect);
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`no migrations/${dialect} folder above ${import.meta.dirname}`);
  }
}
