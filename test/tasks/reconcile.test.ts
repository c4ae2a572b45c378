// Reconciliation in process (SQLite and the local store in a temp folder): a
// bucket with strays of every kind, a dry run that changes nothing, --apply,
// and what clients then see. `npm run reconcile` itself, on MariaDB and S3,
// is in reconcile-command.test.ts.
import { createHash, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { FileEventType, FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { reconcile, type ReconcileFinding } from "../../src/tasks/reconcile.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import { startInProcess, type InProcess } from "../support/in-process.js";
import { rpcError } from "../support/rpc.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const owner = "owner-reconcile";
const HOUR = 3600_000;

async function putObject(objects: ObjectStore, key: string, text: string) {
  const body = Buffer.from(text);
  await objects.put({ key, body, contentType: "text/plain", contentLength: body.length, md5: createHash("md5").update(body).digest("base64") });
}

async function confirmed(started: InProcess, seed: number): Promise<string> {
  const client = started.asService();
  const bytes = pngLikeBytes(100 + seed);
  const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [fileSpec(bytes)] });
  await started.put(uploads[0]!, bytes);
  await client.confirmUpload({ ownerId: owner, fileIds: [uploads[0]!.fileId] });
  return uploads[0]!.fileId;
}

describe("reconcile", () => {
  it("finds orphan objects and files whose bytes are gone; a dry run changes nothing, --apply fixes both", async () => {
    h = await startInProcess();
    const client = h.asService();
    const [kept, lost, deleted] = [await confirmed(h, 1), await confirmed(h, 2), await confirmed(h, 3)];
    // Bytes gone behind the service's back; a file deleted whose purge has not run yet.
    await h.objects.delete([`files/${lost}/original`]);
    await client.deleteFile({ ownerId: owner, fileId: deleted });
    // Strays: an object of no file, one that is no file's key at all, and a quarantined copy (not served space).
    const stray = randomUUID();
    await putObject(h.objects, `files/${stray}/original`, "written by hand");
    await putObject(h.objects, "files/notes.txt", "a note");
    await putObject(h.objects, `quarantine/${stray}/original`, "kept apart");
    await h.runTasks(); // the uploaded events; the purge of `deleted` runs too...
    await putObject(h.objects, `files/${deleted}/thumb`, "restored from a backup"); // ...and a backup brings a variant back

    const run = async (apply: boolean, now = new Date(Date.now() + HOUR)) => {
      const findings: ReconcileFinding[] = [];
      const counts = await reconcile({ files: h!.files, objects: h!.objects }, { apply, minAgeMs: HOUR, pageSize: 2, now, onFinding: (f) => findings.push(f) });
      return { counts, findings };
    };

    // Everything is younger than the threshold: nothing is an orphan yet.
    expect((await run(false, new Date())).counts).toEqual({ orphans: 0, missing: 1 });

    const dry = await run(false);
    expect(dry.counts).toEqual({ orphans: 3, missing: 1 });
    expect(dry.findings.filter((f) => f.finding === "orphan_object").map((f) => [f.key, f.file, f.fileStatus, f.action]).sort()).toEqual(
      [
        [`files/${stray}/original`, stray, null, "would remove"],
        ["files/notes.txt", null, null, "would remove"],
        [`files/${deleted}/thumb`, deleted, "deleted", "would remove"],
      ].sort(),
    );
    expect(dry.findings.filter((f) => f.finding === "missing_object")).toEqual([
      { finding: "missing_object", file: lost, owner, key: `files/${lost}/original`, action: "would mark missing" },
    ]);
    // A dry run changed nothing.
    expect(await h.objects.head(`files/${stray}/original`)).not.toBeNull();
    expect((await client.getFile({ ownerId: owner, fileId: lost })).file?.status).toBe(FileStatus.UPLOADED);

    const applied = await run(true);
    expect(applied.counts).toEqual({ orphans: 3, missing: 1 });
    expect(applied.findings.map((f) => f.action).sort()).toEqual(["marked missing", "removed", "removed", "removed"]);
    for (const key of [`files/${stray}/original`, "files/notes.txt", `files/${deleted}/thumb`]) expect(await h.objects.head(key)).toBeNull();
    expect(await h.objects.head(`quarantine/${stray}/original`)).not.toBeNull();
    expect(await h.objects.head(`files/${kept}/original`)).not.toBeNull();

    // Clients see it: the status, no download URL, and the event.
    expect((await client.getFile({ ownerId: owner, fileId: lost })).file?.status).toBe(FileStatus.MISSING);
    const refused = await rpcError(client.getDownloadURLs({ ownerId: owner, fileIds: [lost] }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toContain("missing");
    await h.runTasks(new Date(Date.now() + 2 * HOUR)); // the run's clock was an hour ahead
    expect(h.events.filter((e) => e.type === FileEventType.MISSING).map((e) => e.fileId)).toEqual([lost]);

    // Nothing left to find.
    expect((await run(true)).counts).toEqual({ orphans: 0, missing: 0 });
  });
});
