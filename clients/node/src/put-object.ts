// The PUT of a presigned upload: exactly the headers the service signed, the
// bytes streamed with progress, and a bounded number of retries when the
// network failed or the store answered 5xx. A 4xx is the store refusing these
// bytes or headers: trying again cannot help, so it is reported at once.
import type { PresignedUpload } from "./contract.js";
import type { BodySource } from "./file-input.js";

export interface PutOptions {
  /** Attempts after the first (default 3). */
  retries?: number;
  /** Bytes sent so far in this attempt (restarts from 0 on a retry). */
  onProgress?: (loaded: number) => void;
  signal?: AbortSignal;
}

/** The store refused the PUT, or it failed after every retry; `status` is undefined for a network error. */
export class PutError extends Error {
  override name = "PutError";
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

const DEFAULT_RETRIES = 3;
const BACKOFF_BASE_MS = 200;

export async function putPresigned(upload: PresignedUpload, body: BodySource, options: PutOptions = {}): Promise<void> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  for (let attempt = 0; ; attempt++) {
    const failure = await putOnce(upload, body, options);
    if (failure === undefined) return;
    if (!failure.retryable || attempt >= retries) throw failure.error;
    // Exponential backoff with jitter, so parallel uploads do not retry in step.
    await new Promise((resolve) => setTimeout(resolve, BACKOFF_BASE_MS * 2 ** attempt * (0.5 + Math.random())));
  }
}

async function putOnce(upload: PresignedUpload, body: BodySource, options: PutOptions): Promise<{ error: PutError; retryable: boolean } | undefined> {
  let loaded = 0;
  options.onProgress?.(0);
  async function* counted() {
    for await (const chunk of body.open()) {
      yield chunk;
      loaded += chunk.length;
      options.onProgress?.(loaded);
    }
  }
  let response: Response;
  try {
    // A stream body needs duplex "half"; the signed Content-Length makes it a
    // fixed-length request (stores refuse chunked uploads).
    response = await fetch(upload.url, {
      method: upload.method || "PUT",
      headers: upload.headers,
      body: ReadableStream.from(counted()),
      duplex: "half",
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    if (options.signal?.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { error: new PutError(`upload of the bytes failed: ${cause?.code ?? cause?.message ?? (e as Error).message}`, undefined), retryable: true };
  }
  const text = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim();
  if (response.ok) return undefined;
  return {
    error: new PutError(`upload of the bytes refused: HTTP ${response.status}${text ? ` ${storeMessage(text)}` : ""}`, response.status),
    retryable: response.status >= 500,
  };
}

/** S3's XML error as "Code: Message"; anything else as the first 200 characters. */
function storeMessage(text: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return code !== undefined ? `${code}${message ? `: ${message}` : ""}` : text.slice(0, 200);
}
