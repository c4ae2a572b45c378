// What a person sees after `npm start`: where the listeners are and commands
// that work as printed with the dev credentials of the embedded mode.
import { isAbsolute, relative } from "node:path";
import type { Config } from "../config.js";
import { DEV_USER } from "./bootstrap.js";

export interface BannerInput {
  config: Config;
  embedded: string[];
  grpcPort: number;
  httpPort: number;
  dev: { client?: { caFile: string; certFile: string; keyFile: string }; tokenFile?: string };
}

export function startupBanner({ config, embedded, grpcPort, httpPort, dev }: BannerInput): string {
  // The dev server certificate names localhost; wildcard binds are reachable there too.
  const host = ["0.0.0.0", "::", "127.0.0.1", "::1"].includes(config.host) ? "localhost" : config.host;
  const grpcUrl = `https://${host}:${grpcPort}`;
  const httpUrl = `${config.publicTls ? "https" : "http"}://${host}:${httpPort}`;
  const lines = [
    "",
    `file-service is up${embedded.length > 0 ? ` on embedded defaults: ${embedded.join(", ")}` : ""}`,
    `  data:      ${shown(config.dataDir)}`,
    `  internal:  ${grpcUrl}  (gRPC with mutual TLS, for services)`,
    `  public:    ${httpUrl}  (Connect/JSON and gRPC-Web with a JWT, for browsers; /healthz /readyz /metrics)`,
    `  web app:   ${httpUrl}/  (the photo app: open it in a browser${dev.tokenFile !== undefined ? `; signed in as ${DEV_USER}` : ", paste a token"})`,
    `  CORS:      ${config.corsOrigins.length > 0 ? config.corsOrigins.join(", ") : "no browser origin allowed (set CORS_ORIGINS)"}`,
  ];
  if (dev.client !== undefined || dev.tokenFile !== undefined) lines.push("", "Try it:");
  if (dev.client !== undefined) {
    const { caFile, certFile, keyFile } = dev.client;
    lines.push(
      `  npx buf curl --protocol grpc --cacert ${shown(caFile)} --cert ${shown(certFile)} --key ${shown(keyFile)} \\`,
      `    -d '{"ownerId":"demo"}' ${grpcUrl}/file.v1.FileService/ListFiles`,
    );
  }
  if (dev.tokenFile !== undefined) {
    lines.push(
      `  curl -X POST ${httpUrl}/file.v1.FileService/ListFiles -H 'Content-Type: application/json' \\`,
      `    -H "Authorization: Bearer $(cat ${shown(dev.tokenFile)})" -d '{}'`,
    );
  }
  return `${lines.join("\n")}\n\n`;
}

/** Paths inside the working directory are shown relative to it, as a person would type them. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
