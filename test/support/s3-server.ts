// Starts a throwaway s3rver for integration tests: child process, loopback,
// ephemeral port, temp directory, one bucket with permissive CORS.

import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface S3Server {
  /** http://127.0.0.1:<port>; use with forcePathStyle. */
  endpoint: string;
  bucket: string;
  /** The server's process id (benchmarks read its CPU time from /proc). */
  pid: number;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = fileURLToPath(new URL("./s3rver-child.ts", import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

// s3rver accepts its default key pair; the SDK needs some credentials to sign.
if (process.env.AWS_ACCESS_KEY_ID === undefined) {
  process.env.AWS_ACCESS_KEY_ID = "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
}

/** `otherBuckets`: made beside `bucket` (which the service uses), e.g. a quarantine bucket. */
export async function startS3Server(options: { bucket?: string; otherBuckets?: string[] } = {}): Promise<S3Server> {
  const bucket = options.bucket ?? "test-bucket";
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  // Plain node runs the .ts child (type stripping); don't inherit the test runner's flags.
  const child = fork(CHILD_SCRIPT, [directory, [bucket, ...(options.otherBuckets ?? [])].join(",")], {
    execArgv: [],
    // s3rver is silent; whatever reaches stderr is a crash worth seeing.
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(directory, { recursive: true, force: true });
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("s3rver did not start in time")), START_TIMEOUT_MS);
      child.once("message", (message: { port?: unknown }) => {
        clearTimeout(timer);
        if (typeof message.port === "number") resolve(message.port);
        else reject(new Error(`unexpected message from s3rver child: ${JSON.stringify(message)}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver child exited (code ${code}, signal ${signal})`));
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    // A forgotten stop() must not keep the test process alive; the child exits on disconnect.
    child.unref();
    child.channel?.unref();
    return { endpoint: `http://127.0.0.1:${port}`, bucket, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
