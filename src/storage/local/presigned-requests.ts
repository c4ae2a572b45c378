// Presigned requests to the local store, as S3 would handle them: a PUT is
// checked (signature, expiry, the signed Content-Type/-Length/-MD5) and its
// bytes stored only when they are exactly what was signed; a GET or HEAD is
// checked and served, with Range and the signed response headers. Answers are
// neutral: refusals in the store's words, which the object routes map to HTTP.
import type { Readable } from "node:stream";
import { digestOf, openObject, unavailable, writeObject } from "./disk-objects.js";
import { refuse, type ObjectRefusal } from "./object-refusal.js";
import { DECLARED_PARAM, HEADER_NAME, parseTarget } from "./object-urls.js";
import {
  EXPIRES_PARAM,
  RESPONSE_DISPOSITION_PARAM,
  RESPONSE_TYPE_PARAM,
  SIGNATURE_PARAM,
  type SignedRequest,
  type UrlSigner,
} from "./url-signer.js";

export interface UploadRequest {
  /** The raw request target (path and query, still percent-encoded): `req.raw.url`. */
  target: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Readable;
}

export interface DownloadRequest {
  target: string;
  range?: string | undefined;
  /** HEAD: the same answer without a body. */
  headOnly?: boolean;
}

export type UploadResult = { ok: true; etag: string } | ObjectRefusal;
export type DownloadResult =
  | { ok: true; status: 200 | 206; headers: Record<string, string>; body: Readable | null }
  | ObjectRefusal;

export interface PresignedRequests {
  /** Checks and stores a presigned upload; nothing is stored unless it is accepted. */
  acceptUpload(request: UploadRequest): Promise<UploadResult>;
  /** Checks a presigned download and opens the object (or the requested range). */
  openDownload(request: DownloadRequest): Promise<DownloadResult>;
}

export function createPresignedRequests(options: { signer: UrlSigner; pathOf: (key: string) => string; root: string }): PresignedRequests {
  const { signer, pathOf, root } = options;

  /** The key and query of a presigned request, or why it is refused. */
  function authorize(
    method: SignedRequest["method"],
    target: string,
    fields: (query: URLSearchParams) => Record<string, string>,
  ): { ok: true; key: string; query: URLSearchParams } | ObjectRefusal {
    const parsed = parseTarget(target);
    if (parsed === null) return refuse("InvalidURI", "Could not parse the specified URI.");
    const { key, query } = parsed;
    const expires = query.get(EXPIRES_PARAM);
    const signature = query.get(SIGNATURE_PARAM);
    if (expires === null || signature === null || !/^\d{1,12}$/.test(expires)) {
      return refuse("AccessDenied", "Query-string authentication requires a valid signature and expiry.");
    }
    switch (signer.verify({ method, key, expires: Number(expires), fields: fields(query) }, signature)) {
      case "valid":
        return { ok: true, key, query };
      case "expired":
        return refuse("AccessDenied", "Request has expired");
      case "invalid":
        return refuse("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    }
  }

  /**
   * Why a PUT's headers do not match its URL, naming each header that differs,
   * when the URL itself is intact (its signature holds for the values it
   * declares); undefined when the URL was changed or declares nothing.
   */
  function explainHeaderMismatch(target: string, sent: Record<string, string>): ObjectRefusal | undefined {
    const parsed = parseTarget(target);
    if (parsed === null) return undefined;
    const { key, query } = parsed;
    const declared: Record<string, string> = {};
    for (const [name, param] of Object.entries(DECLARED_PARAM)) {
      const value = query.get(param);
      if (value === null) return undefined; // a URL from before values were declared
      declared[name] = value;
    }
    const expires = Number(query.get(EXPIRES_PARAM));
    switch (signer.verify({ method: "PUT", key, expires, fields: declared }, query.get(SIGNATURE_PARAM) ?? "")) {
      case "invalid":
        return undefined;
      case "expired":
        return refuse("AccessDenied", "Request has expired");
      case "valid": {
        const problems = Object.entries(declared)
          .filter(([name, value]) => sent[name] !== value)
          .map(([name, value]) =>
            sent[name] === "" ? `${HEADER_NAME[name]} is missing (this URL needs ${value})` : `${HEADER_NAME[name]} is ${sent[name]}, but this URL was signed for ${value}`,
          );
        return refuse(
          "SignatureDoesNotMatch",
          `The request signature we calculated does not match the signature you provided: ${problems.join("; ")}. Send exactly the headers the upload URL was issued with.`,
        );
      }
    }
  }

  return {
    async acceptUpload({ target, headers, body }: UploadRequest): Promise<UploadResult> {
      const contentLength = header(headers, "content-length");
      if (contentLength === "") {
        return refuse("MissingContentLength", "You must provide the Content-Length HTTP header.");
      }
      const signed = {
        "content-type": header(headers, "content-type"),
        "content-length": contentLength,
        "content-md5": header(headers, "content-md5"),
      };
      const auth = authorize("PUT", target, () => signed);
      if (!auth.ok) return auth.code === "SignatureDoesNotMatch" ? (explainHeaderMismatch(target, signed) ?? auth) : auth;
      // destroyOnReturn: false leaves a refused body to Node, which discards it
      // after the response instead of resetting the connection.
      const chunks = body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>;
      const written = await writeObject(pathOf(auth.key), root, chunks, Number(contentLength), signed["content-md5"]);
      return written.ok ? { ok: true, etag: `"${Buffer.from(written.md5, "base64").toString("hex")}"` } : written;
    },

    async openDownload({ target, range, headOnly = false }: DownloadRequest): Promise<DownloadResult> {
      const auth = authorize("GET", target, (query) => ({
        [RESPONSE_DISPOSITION_PARAM]: query.get(RESPONSE_DISPOSITION_PARAM) ?? "",
        [RESPONSE_TYPE_PARAM]: query.get(RESPONSE_TYPE_PARAM) ?? "",
      }));
      if (!auth.ok) return auth;
      const opened = await openObject(pathOf(auth.key));
      if (opened === null) return refuse("NoSuchKey", "The specified key does not exist.");
      let handOver = false;
      try {
        const size = Number(opened.stats.size);
        const span = parseRange(range, size);
        if (span === "unsatisfiable") {
          return refuse("InvalidRange", "The requested range is not satisfiable", { "Content-Range": `bytes */${size}` });
        }
        const disposition = auth.query.get(RESPONSE_DISPOSITION_PARAM) ?? "";
        const headers: Record<string, string> = {
          "Content-Type": auth.query.get(RESPONSE_TYPE_PARAM) || "application/octet-stream",
          ...(disposition === "" ? {} : { "Content-Disposition": disposition }),
          "Content-Length": String(span === null ? size : span.end - span.start + 1),
          ...(span === null ? {} : { "Content-Range": `bytes ${span.start}-${span.end}/${size}` }),
          "Accept-Ranges": "bytes",
          ETag: `"${Buffer.from(await digestOf(opened), "base64").toString("hex")}"`,
          "Last-Modified": opened.stats.mtime.toUTCString(),
        };
        // Read through the handle opened above, so a concurrent overwrite cannot mix two objects' bytes.
        const body = headOnly
          ? null
          : opened.handle.createReadStream(span === null ? {} : { start: span.start, end: span.end });
        handOver = body !== null;
        return { ok: true, status: span === null ? 200 : 206, headers, body };
      } catch (error) {
        throw unavailable(error);
      } finally {
        if (!handOver) await opened.handle.close().catch(() => undefined);
      }
    },
  };
}

/** A single `bytes=` range; null serves the whole object (no, malformed or multiple ranges, as S3 does). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "") {
    if (last === "") return null;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

function header(headers: UploadRequest["headers"], name: string): string {
  const value = headers[name];
  return typeof value === "string" ? value : "";
}
