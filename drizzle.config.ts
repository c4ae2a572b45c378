// drizzle-kit configuration: `npm run generate:migrations` writes SQL migrations
// for the MySQL schema; src/db/migrate.ts applies them (drizzle-kit's own
// migrate/push need DATABASE_URL; generate needs no database).
import { defineConfig } from "drizzle-kit";

const url = process.env.DATABASE_URL;

export default defineConfig({
  dialect: "mysql",
  schema: "./src/db/mysql/schema.ts",
  out: "./migrations/mysql",
  // A URL, not host/user/password fields: drizzle-kit rejects an empty password.
  ...(url ? { dbCredentials: { url } } : {}),
});
