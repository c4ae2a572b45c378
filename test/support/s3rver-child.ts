// Runs s3rver in its own process (started by s3-server.ts), so the server keeps
// answering while a test blocks its own event loop (e.g. in a synchronous child
// process call). Reports { port } over IPC; exits when the parent goes away.
// Plain Node (type stripping), no tsx: keep to erasable TypeScript syntax.
//
// argv: <directory> <bucket>

import { rmSync } from "node:fs";
import { createRequire } from "node:module";

interface S3rverInstance {
  run(): Promise<{ port: number }>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

// s3rver is CommonJS and ships no type declarations.
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;

// Permissive, so browser tests can PUT and GET with presigned URLs from any origin.
const CORS_CONFIG = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined || process.send === undefined) {
  console.error("usage: fork s3rver-child.ts <directory> <bucket> with an IPC channel");
  process.exit(2);
}

// Never outlive the test process, even when it dies without calling stop();
// then nobody else will remove the data directory either.
process.on("disconnect", () => {
  rmSync(directory, { recursive: true, force: true });
  process.exit(0);
});

try {
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    // "<bucket>[,<more buckets>]": every one configured (e.g. a quarantine bucket beside the files').
    configureBuckets: bucket.split(",").map((name) => ({ name, configs: [CORS_CONFIG] })),
  });
  const { port } = await server.run();
  process.send({ port });
} catch (error) {
  console.error(error);
  process.exit(1);
}
