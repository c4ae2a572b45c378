// The web app's routes on their own: the demo token is handed out only when the
// service runs on the dev JWT secret, and only the page and its assets are served.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webRoutes } from "../../src/transport/web-routes.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-web-routes-"));
  await mkdir(join(dir, "dist/assets"), { recursive: true });
  await writeFile(join(dir, "dist/index.html"), "<!doctype html><title>x</title>");
  await writeFile(join(dir, "dist/assets/app.js"), "console.log(1)");
  await writeFile(join(dir, "token"), "dev-token\n");
  await writeFile(join(dir, "secret.js"), "not served");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function app(devTokenFile?: string) {
  const server = fastify();
  await server.register(webRoutes({ dir: join(dir, "dist"), ...(devTokenFile ? { devTokenFile } : {}) }));
  return server;
}

describe("web routes", () => {
  it("hand out the demo token in zero-setup mode, never with real JWT settings", async () => {
    const dev = await app(join(dir, "token"));
    const page = { "sec-fetch-site": "same-origin" };
    const token = await dev.inject({ url: "/dev/token", headers: page, remoteAddress: "127.0.0.1" });
    expect([token.statusCode, token.body, token.headers["cache-control"]]).toEqual([200, "dev-token", "no-store"]);
    // Another site's page (the dev CORS origins allow any localhost port), a non-browser, another machine.
    for (const [headers, remoteAddress] of [
      [{ "sec-fetch-site": "same-site" }, "127.0.0.1"],
      [{}, "127.0.0.1"],
      [page, "192.168.1.20"],
    ] as const) {
      const refused = await dev.inject({ url: "/dev/token", headers, remoteAddress });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).not.toContain("dev-token");
    }
    const real = await app();
    expect((await real.inject({ url: "/dev/token", headers: page, remoteAddress: "127.0.0.1" })).statusCode).toBe(404);
  });

  it("serve the page and named assets only, nothing outside the build", async () => {
    const server = await app();
    expect((await server.inject({ url: "/" })).headers["content-type"]).toBe("text/html; charset=utf-8");
    expect((await server.inject({ url: "/assets/app.js" })).headers["content-type"]).toBe("text/javascript; charset=utf-8");
    for (const url of ["/assets/..%2F..%2Fsecret.js", "/assets/missing.js", "/index.html", "/anything"]) {
      expect((await server.inject({ url })).statusCode, url).toBe(404);
    }
  });

  it("say how to build when the build is missing", async () => {
    const server = fastify();
    await server.register(webRoutes({ dir: join(dir, "nowhere") }));
    const page = await server.inject({ url: "/" });
    expect(page.statusCode).toBe(404);
    expect(page.json().error).toContain("npm start");
  });
});
