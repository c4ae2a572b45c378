// `npx file-service` as a person runs it: the real binary as a child process
// in a clone-like folder beside the zero-setup service, once in a pseudo-
// terminal (script(1)) so the progress bars render; the README's commands as
// printed; errors as one line with their Code; the service's own tasks.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeBlock } from "../support/readme.js";
import { solid } from "../support/images.js";
import { createTestDatabase } from "../support/database.js";
import { freePort, REPO_ROOT, startServiceProcess } from "../support/service-process.js";
import { startZeroSetup, type ZeroSetupService } from "../support/zero-setup.js";

let zs: ZeroSetupService;

beforeAll(async () => {
  zs = await startZeroSetup();
  await mkdir(join(zs.dir, "pictures/more"), { recursive: true });
  await writeFile(join(zs.dir, "pictures/beach.jpg"), await solid(640, 480, "jpeg", "#2288cc"));
  await writeFile(join(zs.dir, "pictures/forest.png"), await solid(300, 300, "png", "#228822"));
  await writeFile(join(zs.dir, "pictures/more/sunset.webp"), await solid(500, 250, "webp", "#cc6622"));
  await writeFile(join(zs.dir, "pictures/notes.txt"), "not a picture, and not uploaded from a directory");
});

afterAll(async () => {
  await zs?.stop();
});

const ID = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/;
const noStack = (text: string) => expect(text).not.toMatch(/^\s+at /m);

/** The table's rows as cells (columns are two or more spaces apart). */
function rows(table: string): string[][] {
  return table
    .trim()
    .split("\n")
    .filter((line) => new RegExp(`^(${ID.source}|-) `).test(line))
    .map((line) => line.split(/ {2,}/));
}

describe("npx file-service", () => {
  it("prints its help", async () => {
    const { code, stdout } = await zs.run("npx file-service --help");
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: file-service [options] [command]");
    for (const command of ["upload [options] <paths...>", "ls [options]", "get <id>", "url [options] <id>", "rm <ids...>", "watch [ids...]", "serve", "migrate", "certs", "token"]) {
      expect(stdout).toContain(command);
    }
  });

  it("runs the README's commands as printed: upload with a table, then ls, get, url and rm", async () => {
    const script = ["set -euo pipefail", readmeBlock("command-line", "sh")].join("\n");
    const { code, stdout, stderr } = await zs.run(script);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const [header, row] = stdout.split("\n");
    expect(header).toMatch(/^ID +NAME +SIZE +STATUS +VARIANTS$/);
    const [id, name, size, status, variants] = row!.split(/ {2,}/);
    expect(id).toMatch(ID);
    expect([name, size, status, variants]).toEqual(["examples/photo.jpg", "11.1 KiB", "uploaded", "large,thumb"]);
    expect(stdout).toContain("1 of 1 uploaded\n");
    const record = JSON.parse(stdout.slice(stdout.indexOf("{"), stdout.lastIndexOf("}") + 1)) as Record<string, unknown>;
    expect(record).toMatchObject({ id, ownerId: "demo", filename: "photo.jpg", status: "FILE_STATUS_UPLOADED", processingStatus: "PROCESSING_STATUS_COMPLETED" });
    expect(stdout).toMatch(new RegExp(`^http://localhost:${zs.httpPort}/objects/files/${id}/thumb\\?\\S+$`, "m"));
    expect(stdout.trimEnd().endsWith(`deleted ${id}`)).toBe(true);
    const after = await zs.run(`npx file-service get ${id}`);
    expect(after.stdout).toContain('"status": "FILE_STATUS_DELETED"');
  });

  it("draws a progress bar per file in a terminal (script -qec), then the table", async () => {
    const { code, stdout } = await zs.run(`script -qec "npx file-service upload pictures" /dev/null`);
    expect(code).toBe(0);
    const screen = stdout.replace(/\r/g, "\n");
    for (const name of ["pictures/beach.jpg", "pictures/forest.png", "pictures/more/sunset.webp"]) {
      expect(screen).toMatch(new RegExp(`█{20} 100% +[\\d.]+ (B|KiB)  done    ${name.replaceAll(".", "\\.")}`));
    }
    expect(screen).toContain("3 of 3 uploaded");
    expect(stdout.lastIndexOf("\u001b[?25h")).toBeGreaterThan(stdout.lastIndexOf("\u001b[?25l")); // the cursor is shown again

    // The README's first command, as printed, in a terminal.
    const first = readmeBlock("command-line", "sh").split("\n")[0]!;
    expect(first).toBe("npx file-service upload examples/photo.jpg");
    const single = await zs.run(`script -qec "${first}" /dev/null`);
    expect(single.code).toBe(0);
    expect(single.stdout).toMatch(/█{20} 100% +11\.1 KiB {2}done {4}examples\/photo\.jpg/);
    expect(single.stdout).toMatch(/^ID +NAME +SIZE +STATUS +VARIANTS\r?$/m);
    expect(single.stdout).toContain("1 of 1 uploaded");
  }, 60_000);

  it("uploads a directory's images (not its other files) with a row per file; piped, no bars", async () => {
    const { code, stdout, stderr } = await zs.run("npx file-service upload pictures --purpose avatar");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(rows(stdout).map(([, name, , status, variants]) => [name, status, variants])).toEqual([
      ["pictures/beach.jpg", "uploaded", "large,medium,thumb"],
      ["pictures/forest.png", "uploaded", "large,medium,thumb"],
      ["pictures/more/sunset.webp", "uploaded", "large,medium,thumb"],
    ]);
    expect(stdout).not.toContain("notes.txt");
  });

  it("url prints a presigned URL that serves the variant asked for", async () => {
    const up = await zs.run("npx file-service upload examples/photo.jpg --purpose story");
    const id = rows(up.stdout)[0]![0]!;
    const { code, stdout } = await zs.run(`npx file-service url ${id} --variant large --attachment`);
    expect(code).toBe(0);
    const response = await fetch(stdout.trim());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="?photo-large\.webp/);
  });

  it("--stream sends the bytes through the service", async () => {
    await writeFile(join(zs.dir, "streamed.png"), await solid(200, 120, "png", "#445566"));
    const { code, stdout } = await zs.run("npx file-service upload --stream streamed.png --purpose cover-photo");
    expect(code).toBe(0);
    expect(rows(stdout).map(([, name, , status, variants]) => [name, status, variants])).toEqual([["streamed.png", "uploaded", "large,medium,thumb"]]);
    const id = rows(stdout)[0]![0]!;
    expect((await zs.run(`npx file-service get ${id}`)).stdout).toContain('"purpose": "FILE_PURPOSE_COVER_PHOTO"');
  });

  it("lists newest first, with --status and -q", async () => {
    const listed = await zs.run("npx file-service ls");
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID +NAME +SIZE +STATUS +VARIANTS +CREATED$/);
    const names = rows(listed.stdout).map((r) => r[1]);
    expect(names[0]).toBe("streamed.png");
    expect(names).toContain("sunset.webp");
    const deleted = await zs.run("npx file-service ls --status deleted -q");
    expect(deleted.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(1);
    for (const line of deleted.stdout.trim().split("\n")) expect(line).toMatch(new RegExp(`^${ID.source}$`));
  });

  it("deletes several files, each with its own answer: one unknown id fails with its Code, the others are deleted", async () => {
    const ids = (await zs.run("npx file-service ls -q --limit 2")).stdout.trim().split("\n");
    const unknown = "01a24771-0000-7000-8000-000000000000";
    const { code, stdout, stderr } = await zs.run(`npx file-service rm ${ids.join(" ")} ${unknown}`);
    expect(code).toBe(1);
    expect(stdout).toBe(ids.map((id) => `deleted ${id}\n`).join(""));
    expect(stderr).toBe(`not_found: file ${unknown} not found\n`);
  });
});

describe("errors: the Code and the message, exit 1, never a stack", () => {
  it.each([
    ["a malformed id", "npx file-service get not-an-id", 'invalid_argument: file_id: "not-an-id" is not a file id (a UUID)\n'],
    ["an unknown id", "npx file-service url 01a24771-0000-7000-8000-000000000001", "not_found: file 01a24771-0000-7000-8000-000000000001 not found\n"],
    ["a file the service refuses", "echo notes > notes.txt && npx file-service upload notes.txt", /^invalid_argument: files\[0\]\.filename: extension "\.txt" is not allowed/],
    ["a missing file", "npx file-service upload nowhere.jpg", "file-service: no such file or directory: nowhere.jpg\n"],
    ["a bad token", "FILE_SERVICE_TOKEN=nonsense npx file-service ls", /^unauthenticated: /],
  ])("%s", async (_what, command, expected) => {
    const { code, stdout, stderr } = await zs.run(command);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    if (typeof expected === "string") expect(stderr).toBe(expected);
    else expect(stderr).toMatch(expected);
    noStack(stderr);
  });

  it("a service that is not running: says so and how to start it", async () => {
    const closed = await freePort();
    const { code, stderr } = await zs.run("npx file-service ls", { env: { GRPC_PORT: String(closed) } });
    expect(code).toBe(1);
    expect(stderr).toBe(
      `unavailable: cannot reach file-service (connect ECONNREFUSED 127.0.0.1:${closed}). Is it running? Start it with \`npm start\` (or \`npx file-service serve\`), or point --url at it.\n`,
    );
  });

  it("no credentials anywhere: names what to give", async () => {
    const { code, stderr } = await zs.run("npx file-service ls", { env: { DATA_DIR: "elsewhere" } });
    expect(code).toBe(1);
    expect(stderr).toContain("file-service: no credentials: no --token or --ca/--cert/--key (or FILE_SERVICE_* variables), and no zero-setup client certificate in elsewhere/dev/certs.");
  });

  it("bytes that are not their declared type: a failed row with its code and reason, exit 1", async () => {
    await writeFile(join(zs.dir, "fake.png"), "a text file pretending to be a PNG");
    const { code, stdout } = await zs.run("npx file-service upload fake.png examples/photo.jpg");
    expect(code).toBe(1);
    const table = rows(stdout);
    expect(table[0]![0]).toMatch(ID); // the id it was reserved under
    expect(table.map(([, name, , status]) => [name, status])).toEqual([
      ["fake.png", "failed: type-mismatch"],
      ["examples/photo.jpg", "uploaded"],
    ]);
    expect(stdout).toContain("1 of 2 uploaded, 1 failed:\n  fake.png: ConfirmUpload: file ");
  });
});

describe("credentials from flags and environment", () => {
  it("acts as a user with --token on the public listener, and for another owner with --owner", async () => {
    const token = (await zs.run("npx file-service token alice")).stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const up = await zs.run(`npx file-service --token ${token} upload examples/photo.jpg`);
    expect(up.code).toBe(0);
    const asAlice = await zs.run(`FILE_SERVICE_TOKEN=${token} npx file-service ls`);
    expect(rows(asAlice.stdout).map((r) => r[1])).toEqual(["photo.jpg"]);
    const forAlice = await zs.run("npx file-service --owner alice ls -q");
    expect(forAlice.stdout.trim()).toBe(rows(asAlice.stdout)[0]![0]);
  });

  it("takes --ca --cert --key and --url (and asks for --owner with them)", async () => {
    const certs = "--ca data/dev/certs/ca.pem --cert data/dev/certs/client.pem --key data/dev/certs/client-key.pem";
    const url = `--url https://localhost:${zs.grpcPort}`;
    const noOwner = await zs.run(`npx file-service ${certs} ${url} ls`, { env: { GRPC_PORT: "1" } });
    expect(noOwner).toMatchObject({ code: 1, stderr: "file-service: a service certificate acts for the owner it names: give --owner <id>\n" });
    const listed = await zs.run(`npx file-service ${certs} ${url} --owner alice ls -q`, { env: { GRPC_PORT: "1" } });
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim()).toMatch(new RegExp(`^${ID.source}$`));
  });
});

describe("watch", () => {
  it("prints each event as it happens and stops on Ctrl-C (SIGINT) with exit 0", async () => {
    const child = spawn(join(zs.dir, "node_modules/.bin/file-service"), ["watch"], { cwd: zs.dir, env: zs.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 300 && !pattern.test(out + err); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out + err).toMatch(pattern);
    };
    await until(/watching the files of demo/);
    await new Promise((r) => setTimeout(r, 300)); // the stream is open once the service has answered
    const up = await zs.run("npx file-service upload --no-wait examples/photo.jpg");
    const id = rows(up.stdout)[0]![0]!;
    await until(new RegExp(`processed ${id} photo\\.jpg uploaded processing completed large,thumb`));
    expect(out).toMatch(new RegExp(`^\\S+Z uploaded ${id} photo\\.jpg uploaded processing (pending|processing|completed)`, "m"));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    noStack(err);
  }, 30_000);
});

describe("the service's own tasks", () => {
  it("serve runs the service (what npm start runs), and SIGTERM stops it with exit 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-cli-serve-"));
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const service = startServiceProcess({
      cwd: dir,
      nodeArgs: [join(REPO_ROOT, "node_modules/.bin/file-service"), "serve"],
      env: { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort), LOG_LEVEL: "warn", SHUTDOWN_DRAIN_DELAY_MS: "0", FILE_SERVICE_SKIP_INSTALL: "1" },
    });
    try {
      await service.waitFor(/file-service is up on embedded defaults/, 40_000);
      expect(existsSync(join(dir, "data/dev/certs/client.pem"))).toBe(true);
      const listed = await zs.run(`cd ${dir} && npx --prefix ${zs.dir} file-service ls`, { env: { GRPC_PORT: String(grpcPort) } });
      expect(listed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ID +NAME/) });
      service.child.kill("SIGTERM");
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (service.child.exitCode === null) service.child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("certs, token and migrate run the repository's entry points with their own options", async () => {
    const certs = await zs.run("npx file-service certs --out pki --client billing");
    expect(certs.code).toBe(0);
    expect(certs.stdout).toContain('(client "billing")');
    expect(await readFile(join(zs.dir, "pki/client.pem"), "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect((await zs.run("npx file-service certs --help")).stdout).toMatch(/^Usage: npm run certs -- \[options\]/);
    expect(await zs.run("npx file-service token")).toMatchObject({ code: 2, stderr: "usage: npm run token -- <user-id> [--ttl 1h]\n" });

    const db = await createTestDatabase({ migrate: false });
    try {
      const migrated = await zs.run("npx file-service migrate", { env: { DATABASE_URL: db.url } });
      expect(migrated).toMatchObject({ code: 0, stdout: expect.stringMatching(/^migrate: applied \d{4}_/) });
      expect((await zs.run("npx file-service migrate", { env: { DATABASE_URL: db.url } })).stdout).toBe("migrate: database is up to date\n");
    } finally {
      await db.drop();
    }
  }, 60_000);
});

describe("from a fresh clone", () => {
  it("npm ci links the bin, and npx file-service --help works with no build step", async () => {
    const run = promisify(execFile);
    const clone = await mkdtemp(join(tmpdir(), "fs-cli-clone-"));
    try {
      // What a clone of this working tree holds: tracked and new files, nothing ignored (no node_modules).
      const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
      for (const file of stdout.split("\0").filter((f) => f !== "" && existsSync(join(REPO_ROOT, f)))) {
        await mkdir(dirname(join(clone, file)), { recursive: true });
        await copyFile(join(REPO_ROOT, file), join(clone, file));
      }
      const env = { PATH: process.env.PATH, HOME: process.env.HOME };
      await run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: clone, env, timeout: 240_000 });
      expect(existsSync(join(clone, "node_modules/.bin/file-service"))).toBe(true);
      const help = await run("npx", ["file-service", "--help"], { cwd: clone, env });
      expect(help.stdout).toContain("Usage: file-service [options] [command]");
      // And it finds nothing to talk to there, saying so rather than failing obscurely.
      const ls = await run("npx", ["file-service", "ls"], { cwd: clone, env }).catch((e: { code: number; stderr: string }) => e);
      expect(ls).toMatchObject({ code: 1, stderr: expect.stringContaining("file-service: no credentials") });
    } finally {
      await rm(clone, { recursive: true, force: true });
    }
  }, 300_000);
});
