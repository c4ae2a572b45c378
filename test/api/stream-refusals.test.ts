// An upload stream the service refuses early must reach the client as an
// answer at once, whatever HTTP/2 client sends it. `buf curl` is the tool the
// README and the banner hand to users, and it is built on Go's HTTP/2 client,
// as the Go hangout service is: it used to hang forever after an early refusal,
// sending one flow-control window of the body and then waiting for a
// WINDOW_UPDATE that never came. Each case is bounded: buf curl must have
// exited within 5 s of the moment the service logged the refusal.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";
import { noisePng } from "../support/images.js";

const root = join(import.meta.dirname, "../..");
const buf = join(root, "node_modules/.bin/buf");
const MIB = 1024 * 1024;
// The refusal comes after 1 MiB; the 5 MiB behind it are more than the stream's
// and the connection's flow-control windows (1 and 8 MiB) let a client send
// unread, once buf curl's own buffers are full.
const LIMIT_BYTES = 1 * MIB;
const UPLOAD_BYTES = 6 * MIB;
const ANSWER_WITHIN_MS = 5_000;

/** When the service logged each UploadFileStream's end, and with which code. */
const ended: { at: number; code: string }[] = [];
const log = pino(
  { level: "info" },
  {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string; rpc?: string; code?: string };
      if (entry.msg === "rpc" && entry.rpc === "file.v1.FileService/UploadFileStream") ended.push({ at: Date.now(), code: entry.code ?? "" });
    },
  },
);

let svc: TestService;
let dir: string;
beforeAll(async () => {
  svc = await startTestService({ env: { MAX_FILE_SIZE_BYTES: String(LIMIT_BYTES) }, log });
  dir = await mkdtemp(join(tmpdir(), "fs-refusals-"));
});
afterAll(async () => {
  await svc?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** UploadFileStream as buf curl reads it: one JSON message per line, base64 chunks of 64 KiB. */
function streamLines(bytes: Buffer, filename: string): string {
  const lines = [JSON.stringify({ metadata: { ownerId: "refusal-owner", filename, contentType: "image/png", purpose: "FILE_PURPOSE_PROFILE_PICTURE" } })];
  for (let i = 0; i < bytes.length; i += 64 * 1024) lines.push(JSON.stringify({ chunk: bytes.subarray(i, i + 64 * 1024).toString("base64") }));
  return lines.join("\n") + "\n";
}

interface Outcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** When buf curl exited (or was killed). */
  exitedAt: number;
}

/** Runs buf curl, feeding `input` on stdin or naming a file; kills it after `limitMs`. */
function bufCurl(input: { stdin: string } | { file: string }, limitMs: number): Promise<Outcome> {
  const child = spawn(buf, [
    "curl",
    "--schema", join(root, "proto"),
    "--protocol", "grpc",
    "--cacert", svc.pki.paths.caCert,
    "--cert", svc.pki.hangout.certFile,
    "--key", svc.pki.hangout.keyFile,
    "-d", "stdin" in input ? "@-" : `@${input.file}`,
    `${svc.grpcUrl}/file.v1.FileService/UploadFileStream`,
  ]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.on("error", () => {}); // buf curl may stop reading once answered
  if ("stdin" in input) child.stdin.end(input.stdin);
  else child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) =>
    child.on("exit", (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr, exitedAt: Date.now() });
    }),
  );
}

const causes = {
  "over the purpose's size limit": async () => streamLines(await noisePng(UPLOAD_BYTES), "big.png"),
  "not an image": async () => streamLines(Buffer.alloc(UPLOAD_BYTES, 0x41), "fake.png"),
};

describe("buf curl gets the refusal of an upload stream", () => {
  for (const [cause, make] of Object.entries(causes)) {
    for (const via of ["stdin", "file"] as const) {
      it(`${cause}, data from ${via}, within ${ANSWER_WITHIN_MS / 1000} s of the refusal`, async () => {
        const lines = await make();
        const file = join(dir, `${cause.replace(/\W+/g, "-")}.jsonl`);
        if (via === "file") await writeFile(file, lines);
        const input = via === "stdin" ? { stdin: lines } : { file };
        const seen = ended.length;
        // Killed well past the bound, so a hang fails on the bound, not on the test's timeout.
        const outcome = await bufCurl(input, 20_000);
        const refusal = ended[seen];
        expect(refusal, "the service never ended the call").toBeDefined();
        expect(refusal!.code).toBe("InvalidArgument");
        const answeredAfterMs = outcome.exitedAt - refusal!.at;
        expect(outcome.exitCode, `buf curl was killed ${answeredAfterMs} ms after the refusal\n${outcome.stderr}`).not.toBeNull();
        expect(answeredAfterMs).toBeLessThan(ANSWER_WITHIN_MS);
        expect(outcome.stderr).toMatch(/invalid_argument/);
        expect(outcome.stderr).toMatch(cause === "not an image" ? /not an image|not image\/png|JPEG, PNG/ : /larger than/);
      }, 30_000);
    }
  }
});
