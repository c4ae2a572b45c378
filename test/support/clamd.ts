// A real clamd for the tests, on a free loopback port, with a signature
// database the test writes (no signature mirror is reachable here): a body
// signature for the harmless EICAR test string, so a valid image carrying it
// in a text chunk is "infected" while every other file is clean. Debian's
// clamav-daemon package provides clamd (.ci/run installs it).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { freePort } from "./service-process.js";

/** The EICAR anti-virus test string: harmless, detected by every scanner's test signature. */
export const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/** The name our database gives it; clamd reports `.UNOFFICIAL` after names of third-party databases. */
export const EICAR_SIGNATURE = "FileService.Test.EICAR.UNOFFICIAL";

export interface Clamd {
  url: string;
  port: number;
  /** What the test told clamd it takes at most (its StreamMaxLength). */
  streamMaxBytes: number;
  stop(): Promise<void>;
  /** Starts it again on the same port and database (after stop). */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

export async function startClamd(options: { streamMaxBytes?: number } = {}): Promise<Clamd> {
  const dir = await mkdtemp(join(tmpdir(), "fs-clamd-"));
  const port = await freePort();
  const streamMaxBytes = options.streamMaxBytes ?? 2 * 1024 * 1024;
  await writeFile(join(dir, "file-service-test.ndb"), `FileService.Test.EICAR:0:*:${Buffer.from(EICAR, "latin1").toString("hex")}\n`);
  await writeFile(
    join(dir, "clamd.conf"),
    [
      "Foreground yes",
      `TCPSocket ${port}`,
      "TCPAddr 127.0.0.1",
      `DatabaseDirectory ${dir}`,
      `StreamMaxLength ${streamMaxBytes}`,
      `PidFile ${join(dir, "clamd.pid")}`,
      `LogFile ${join(dir, "clamd.log")}`,
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("clamd", [`--config-file=${join(dir, "clamd.conf")}`], { stdio: "ignore" });
    const deadline = Date.now() + 30_000;
    while (!(await pong(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`clamd did not start (exit ${child.exitCode}); see ${dir}/clamd.log`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  };
  await start();
  return {
    url: `tcp://127.0.0.1:${port}`,
    port,
    streamMaxBytes,
    stop,
    restart: start,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };

  async function pong(p: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: p });
      let answer = "";
      socket.setTimeout(1_000, () => socket.destroy());
      socket.on("connect", () => socket.write("zPING\0"));
      socket.on("data", (d) => (answer += d));
      socket.on("close", () => resolve(answer.startsWith("PONG")));
      socket.on("error", () => resolve(false));
    });
  }
}

/** A valid PNG carrying `text` in a tEXt chunk: it passes type sniffing and decodes as an image. */
export function pngWithText(png: Buffer, keyword: string, text: string): Buffer {
  const data = Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0]), Buffer.from(text, "latin1")]);
  const type = Buffer.from("tEXt");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  const iend = png.length - 12; // the IEND chunk: length, type, CRC
  return Buffer.concat([png.subarray(0, iend), length, type, data, crc, png.subarray(iend)]);
}
