// The local object store's presigned URLs, served on the public listener:
// PUT uploads, GET/HEAD downloads. The store decides; this only speaks HTTP.
import type { Readable } from "node:stream";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { LocalObjectStore } from "../storage/local/local-object-store.js";
import { httpErrorOfFailure, httpErrorOfRefusal, type HttpObjectError } from "./object-errors.js";

const ROUTE = "/objects/*";

export function objectRoutes(store: LocalObjectStore): FastifyPluginAsync {
  // Not wrapped with fastify-plugin: the parser and error handler below stay in this scope.
  return async (app) => {
    // Bodies of any type reach the store as the raw stream, never buffered.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));

    // Fastify's default handler logs the request, URL and signature included.
    app.setErrorHandler((error, req, reply) => {
      const answer = httpErrorOfFailure(error);
      if (answer.status >= 500) req.log.error({ err: error }, "object request failed");
      return sendError(reply, answer, req.method === "HEAD");
    });

    app.put(ROUTE, async (req, reply) => {
      const result = await store.acceptUpload({
        target: req.raw.url ?? "",
        headers: req.headers,
        // No body at all (Content-Length: 0 without a type) skips the parser.
        body: (req.body as Readable | undefined) ?? req.raw,
      });
      if (!result.ok) return sendError(reply, httpErrorOfRefusal(result), false);
      return reply.code(200).header("ETag", result.etag).header("Cache-Control", "private").send();
    });

    const download = (headOnly: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      const result = await store.openDownload({ target: req.raw.url ?? "", range: req.headers.range, headOnly });
      if (!result.ok) return sendError(reply, httpErrorOfRefusal(result), headOnly);
      reply.code(result.status).headers(result.headers).header("Cache-Control", "private");
      if (!headOnly) reply.header("X-Content-Type-Options", "nosniff");
      return reply.send(result.body ?? undefined);
    };
    app.get(ROUTE, { exposeHeadRoute: false }, download(false));
    app.head(ROUTE, download(true));
  };
}

function sendError(reply: FastifyReply, error: HttpObjectError, headOnly: boolean) {
  reply
    .code(error.status)
    .headers(error.headers)
    .header("Cache-Control", "private")
    .header("X-Content-Type-Options", "nosniff");
  if (headOnly) return reply.send();
  // S3's error shape, so clients written against S3 read it the same way.
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error>`;
  return reply.type("application/xml").send(xml);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
