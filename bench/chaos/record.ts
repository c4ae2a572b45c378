// What the chaos clients saw: every call's code and latency, and which file ids
// answers carried, confirmed or deleted (the audit's "client knowledge").
import { Code, ConnectError } from "@connectrpc/connect";
import type { ClientKnowledge } from "./audit.js";

export interface CallRecord {
  rpc: string;
  instance: string;
  startMs: number;
  endMs: number;
  /** Connect code name ("ok", "unavailable", ...), or for a PUT "ok" / "http_<status>" / "network". */
  code: string;
  message?: string;
}

export class Recorder implements ClientKnowledge {
  readonly calls: CallRecord[] = [];
  readonly confirmed = new Set<string>();
  readonly deleted = new Set<string>();
  readonly known = new Set<string>();
  readonly batches: Array<{ kind: "generate" | "delete"; ids: readonly string[]; ok: boolean }> = [];
  /** ConfirmUpload failures by code name (answers that were OK but named a failure). */
  readonly confirmFailures = new Map<string, number>();

  /** Runs `call`, recording its outcome; returns its result or undefined when it failed. */
  async call<T>(rpc: string, instance: string, call: () => Promise<T>): Promise<T | undefined> {
    const startMs = Date.now();
    try {
      const result = await call();
      this.calls.push({ rpc, instance, startMs, endMs: Date.now(), code: "ok" });
      return result;
    } catch (error) {
      const e = ConnectError.from(error);
      this.calls.push({ rpc, instance, startMs, endMs: Date.now(), code: codeName(e.code), message: e.rawMessage.slice(0, 200) });
      return undefined;
    }
  }

  /** A presigned PUT: "ok", "http_<status>" or "network" (cut or timed out). */
  async put(instance: string, put: () => Promise<Response>): Promise<boolean> {
    const startMs = Date.now();
    let code = "network";
    try {
      const response = await put();
      await response.arrayBuffer().catch(() => undefined);
      code = response.ok ? "ok" : `http_${response.status}`;
    } catch {
      // A cut or stalled S3 connection: the fetch failed or timed out.
    }
    this.calls.push({ rpc: "PUT", instance, startMs, endMs: Date.now(), code });
    return code === "ok";
  }

  confirmFailure(code: string): void {
    this.confirmFailures.set(code, (this.confirmFailures.get(code) ?? 0) + 1);
  }
}

/** Code.Unavailable → "unavailable", as Connect and gRPC spell them. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
