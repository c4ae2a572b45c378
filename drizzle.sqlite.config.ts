// drizzle-kit configuration for the embedded SQLite/libSQL schema:
//   npx drizzle-kit generate --config drizzle.sqlite.config.ts --name <what-changed>
// writes SQL migrations that src/db/sqlite/sqlite-file-repository.ts applies when it
// opens the database file. generate needs no database.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/sqlite/schema.ts",
  out: "./migrations/sqlite",
});
