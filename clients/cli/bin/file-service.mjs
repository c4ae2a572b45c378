#!/usr/bin/env node
// The `file-service` command runs its TypeScript as the service does, through
// tsx, so a fresh clone needs `npm ci` and no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
