// `npm test` without one of its servers says so in one line and stops, instead
// of a wall of timeouts in every file.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort, REPO_ROOT } from "./support/service-process.js";

const run = promisify(execFile);

describe("the test run's preflight", () => {
  it.each([
    ["Redis", "TEST_REDIS_URL", (port: number) => `redis://127.0.0.1:${port}`],
    ["MariaDB/MySQL", "TEST_DATABASE_ADMIN_URL", (port: number) => `mysql://root@127.0.0.1:${port}/test`],
    ["RabbitMQ", "TEST_RABBITMQ_URL", (port: number) => `amqp://guest:guest@127.0.0.1:${port}`],
  ])("names a missing %s and how to start it", async (name, variable, url) => {
    const port = await freePort(); // nothing listens there
    const failed = await run("npx", ["vitest", "run", "test/config.test.ts"], {
      cwd: REPO_ROOT,
      env: { ...process.env, [variable]: url(port) },
      timeout: 60_000,
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed!.stderr).toContain(`npm test needs ${name} at 127.0.0.1:${port}, and nothing answers there: start it`);
    expect(failed!.stderr).not.toMatch(/\bat .*:\d+:\d+/);
  }, 90_000);
});
