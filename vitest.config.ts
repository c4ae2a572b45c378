import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real servers (MariaDB databases, an S3 server, TLS listeners).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
