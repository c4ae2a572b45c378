// `file-service`: one command for operators and developers. Files commands talk
// to a running service (found as the backend client finds it); service
// commands run the repository's own entry points.
import { Command } from "commander";
import { registerFileCommands } from "./commands/files.js";
import { registerUploadCommand } from "./commands/upload.js";
import { registerWatchCommand } from "./commands/watch.js";
import { registerServiceCommands } from "./commands/service.js";
import { failWith } from "./report.js";

const program = new Command("file-service")
  .description(
    "Upload, list, fetch and delete files in file-service, and run the service's own tasks.\n" +
      "With no settings it uses the zero-setup service's credentials under DATA_DIR (default data/), acting for owner demo.",
  )
  .option("--url <url>", "the listener's URL (env FILE_SERVICE_URL; default https://localhost:$GRPC_PORT, or http://localhost:$HTTP_PORT with a token)")
  .option("--token <jwt>", "a user token for the public listener (env FILE_SERVICE_TOKEN)")
  .option("--ca <file>", "CA certificate for the internal listener (env FILE_SERVICE_CA)")
  .option("--cert <file>", "client certificate (env FILE_SERVICE_CERT)")
  .option("--key <file>", "client certificate's key (env FILE_SERVICE_KEY)")
  .option("--owner <id>", "the owner to act for (zero-setup default: demo; with a token: the token's user)")
  .showHelpAfterError();

registerUploadCommand(program);
registerFileCommands(program);
registerWatchCommand(program);
registerServiceCommands(program);

try {
  await program.parseAsync();
} catch (error) {
  failWith(error);
}
