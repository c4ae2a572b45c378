// The web app (web/, built into web/dist by `npm start`'s preparation), served
// by the public listener: GET / is the page, GET /assets/<name> its script and
// stylesheet. Nothing else falls back to the page, so a wrong API path stays a
// 404. In zero-setup mode only, GET /dev/token hands the page the demo token,
// and only to a browser page of this very origin on this machine: the dev CORS
// origins (any localhost port) must not let another local page read it.
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyPluginAsync } from "fastify";

export interface WebRoutesOptions {
  /** The built app: index.html and assets/. */
  dir: string;
  /** The zero-setup demo token's file; undefined with real JWT settings. */
  devTokenFile?: string;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export function webRoutes({ dir, devTokenFile }: WebRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    const send = async (file: string, reply: import("fastify").FastifyReply) => {
      const body = await readFile(join(dir, file)).catch(() => undefined);
      if (!body) return reply.code(404).send({ error: `${file} is not built: run npm start (or node web/build.mjs)` });
      return reply.header("Content-Type", TYPES[extname(file)]).header("Cache-Control", "no-cache").send(body);
    };
    app.get("/", (_req, reply) => send("index.html", reply));
    app.get<{ Params: { name: string } }>("/assets/:name", (req, reply) => {
      const { name } = req.params;
      if (!/^[\w-]+\.(js|css)$/.test(name)) return reply.code(404).send({ error: "no such asset" });
      return send(join("assets", name), reply);
    });
    if (devTokenFile) {
      app.get("/dev/token", async (req, reply) => {
        if (req.headers["sec-fetch-site"] !== "same-origin" || !LOOPBACK.has(req.socket.remoteAddress ?? "")) {
          reply.code(403).header("Cache-Control", "no-store");
          return { error: "the demo token is handed only to the web app's own page on this machine; read data/dev/token instead" };
        }
        reply.header("Content-Type", "text/plain; charset=utf-8").header("Cache-Control", "no-store");
        return (await readFile(devTokenFile, "utf8")).trim();
      });
    }
  };
}
