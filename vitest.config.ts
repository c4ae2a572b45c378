import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real servers (MariaDB databases, an S3 server, TLS listeners).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // One clear line when MariaDB or Redis is missing, instead of every file timing out.
    globalSetup: ["test/global-setup.ts"],
  },
});
