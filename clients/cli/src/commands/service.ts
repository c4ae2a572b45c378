// The service's own tasks, run by the repository's entry points (the same
// files `npm start`, `npm run migrate`, `npm run certs` and `npm run token`
// run), never copies of them.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import type { Command } from "commander";

const REPO_ROOT = join(import.meta.dirname, "../../../..");

export function registerServiceCommands(program: Command): void {
  program
    .command("serve")
    .description("run the service (what `npm start` runs: zero-setup defaults unless settings say otherwise)")
    .action(async () => {
      // npm start's preparation: dependencies and the web app, built when stale.
      await runNode([join(REPO_ROOT, "scripts/ensure-deps.mjs")], REPO_ROOT, true);
      // In this process, so signals reach the service itself and it drains on SIGTERM.
      await import(join(REPO_ROOT, "src/main.ts"));
    });

  passThrough(program, "migrate", "apply the MySQL migrations to DATABASE_URL (npm run migrate)", "src/db/migrate.ts");
  passThrough(program, "certs", "write a development PKI into certs/ (npm run certs; --help for its options)", "scripts/certs.ts");
  passThrough(program, "token", "print a user token: token <user-id> [--ttl 1h] (npm run token)", "scripts/token.ts");
}

/** A command whose arguments and options all go to the entry point, which parses them itself. */
function passThrough(program: Command, name: string, description: string, script: string): void {
  program
    .command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      await runNode(["--import", import.meta.resolve("tsx"), join(REPO_ROOT, script), ...args], process.cwd(), false);
    });
}

/** Runs node with `args`, stdio shared; exits with its code when it fails (or always, when `onlyOnFailure` is false). */
async function runNode(args: string[], cwd: string, onlyOnFailure: boolean): Promise<void> {
  const child = spawn(process.execPath, args, { cwd, stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward).on("SIGTERM", forward);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  process.off("SIGINT", forward).off("SIGTERM", forward);
  const status = code ?? (signal !== null ? 1 : 0);
  if (status !== 0 || !onlyOnFailure) process.exit(status);
}
