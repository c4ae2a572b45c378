// An HTTP endpoint for the file service's webhooks: each POST is verified with
// the Standard Webhooks library (signature, id and a timestamp no older than
// five minutes) before the event in its body is trusted.
//
//   WEBHOOK_SECRET=whsec_... PORT=3000 npx tsx examples/webhook-receiver.ts
//   (and give the service WEBHOOK_URLS=http://127.0.0.1:3000/hooks/files with the same secret)
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { fromJsonString } from "@bufbuild/protobuf";
import { FileEventSchema, FileEventType } from "../gen/file/v1/file_service_pb.js";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) throw new Error("set WEBHOOK_SECRET (whsec_...), the service's own");
const verifier = new Webhook(secret);

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    try {
      verifier.verify(body, req.headers as Record<string, string>);
    } catch {
      res.writeHead(401).end(); // not from the file service: never act on it
      return;
    }
    const event = fromJsonString(FileEventSchema, body);
    console.log(`${req.headers["webhook-id"]} ${FileEventType[event.type]} ${event.fileId}`);
    res.writeHead(204).end(); // any 2xx: delivered; anything else is retried with backoff
  });
});
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => console.log(`listening on ${JSON.stringify(server.address())}`));
