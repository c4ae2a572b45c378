// The global flags (named as findService's settings) → a connected client and the owner to act for.
import type { Command } from "commander";
import { createFileClient, findService, type FileClient, type ServiceSettings } from "@file-service/client";
import { UsageError } from "./report.js";

export interface Connected {
  client: FileClient;
  owner: string;
}

export async function connect(command: Command): Promise<Connected> {
  const found = await findService(command.optsWithGlobals<ServiceSettings>());
  if (found.owner === undefined) throw new UsageError("a service certificate acts for the owner it names: give --owner <id>");
  return { client: createFileClient(found.options), owner: found.owner };
}

/** Runs `work` with a connected client and closes it after (an open HTTP/2 session would keep the process alive). */
export async function withClient<T>(command: Command, work: (connected: Connected) => Promise<T>): Promise<T> {
  const connected = await connect(command);
  try {
    return await work(connected);
  } finally {
    connected.client.close();
  }
}
