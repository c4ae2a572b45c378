// An upload stream the service refuses early must reach the client as an
// answer at once, whatever HTTP/2 client sends it. `buf curl` is the tool the
// README and the banner hand to users, and it is built on Go's HTTP/2 client,
// as the Go hangout service is: it used to hang forever after an early refusal.
// Each case is bounded: the answer must come within a few seconds of the
// refusal, never after the client gives up.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";
import { noisePng } from "../support/images.js";

const root = join(import.meta.dirname, "../..");
const buf = join(root, "node_modules/.bin/buf");
const MIB = 1024 * 1024;

let svc: TestService;
let dir: string;
beforeAll(async () => {
  svc = await startTestService();
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
  ms: number;
}

/** Runs buf curl, feeding `input` on stdin or naming a file; kills it after `limitMs`. */
function bufCurl(input: { stdin: string } | { file: string }, limitMs: number): Promise<Outcome> {
  const started = Date.now();
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
      resolve({ exitCode, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

const causes = {
  "over the purpose's size limit": async () => streamLines(await noisePng(11 * MIB), "big.png"),
  "not an image": async () => streamLines(Buffer.alloc(11 * MIB, 0x41), "fake.png"),
};

describe("buf curl gets the refusal of an upload stream", () => {
  for (const [cause, make] of Object.entries(causes)) {
    for (const via of ["stdin", "file"] as const) {
      it(`${cause}, data from ${via}`, async () => {
        const lines = await make();
        const file = join(dir, `${cause.replace(/\W+/g, "-")}.jsonl`);
        if (via === "file") await writeFile(file, lines);
        const input = via === "stdin" ? { stdin: lines } : { file };
        // Sending 10 MiB as base64 JSON through buf curl takes about a second here;
        // an answer that needs the client to give up would take the whole limit.
        const outcome = await bufCurl(input, 20_000);
        expect(outcome.exitCode, `buf curl was killed after ${outcome.ms} ms\n${outcome.stderr}`).not.toBeNull();
        expect(outcome.stderr).toMatch(/invalid_argument/);
        expect(outcome.stderr).toMatch(cause === "not an image" ? /not an image|not image\/png|JPEG, PNG/ : /larger than/);
        expect(outcome.ms).toBeLessThan(10_000);
      }, 30_000);
    }
  }
});
