// The hangout platform's memory upload, end to end, with @file-service/client:
// the hangout backend creates memory records, asks file-service for upload URLs
// (gRPC over mutual TLS), the app on the phone PUTs the photos straight to the
// store, and the backend confirms them and reads the files back.
//
//   npx tsx examples/hangout-memories.ts
//
// It finds the service the way `npx file-service` does: FILE_SERVICE_* settings,
// or the zero-setup service's credentials under DATA_DIR (run `npm start` first).
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createFileClient, FilePurpose, findService, putPresigned, prepareFile, type File } from "@file-service/client";

/** What hangout keeps in its own database: a memory and the files of its photos. */
interface Memory {
  id: string;
  title: string;
  authorId: string;
  photos: { filename: string; fileId?: string; file?: File }[];
}

const photo = await readFile(new URL("photo.jpg", import.meta.url));
const found = await findService();
const author = found.owner || "demo";
const files = createFileClient(found.options);
console.log(`file-service at ${found.options.url} (${found.via}), for ${author}`);

try {
  // 1. The backend records the memories the user is posting.
  const memories: Memory[] = [
    { id: randomUUID(), title: "Picnic at the lake", authorId: author, photos: [{ filename: "lake.jpg" }, { filename: "sandwiches.jpg" }] },
    { id: randomUUID(), title: "Board game night", authorId: author, photos: [{ filename: "winner.jpg" }] },
  ];

  for (const memory of memories) {
    // 2. It asks for one presigned upload per photo; the memory's id makes a retried call return the same files.
    const specs = await Promise.all(memory.photos.map((p) => prepareFile({ data: photo, filename: p.filename, purpose: FilePurpose.POST_ATTACHMENT })));
    const { uploads } = await files.generateUploadURLs({
      ownerId: memory.authorId,
      idempotencyKey: memory.id,
      files: specs.map((s) => ({ filename: s.filename, contentType: s.contentType, sizeBytes: BigInt(s.sizeBytes), md5: s.md5, purpose: s.purpose })),
    });
    uploads.forEach((upload, i) => (memory.photos[i]!.fileId = upload.fileId));

    // 3. The app PUTs each photo to its URL with exactly the signed headers (here, in this process).
    await Promise.all(uploads.map((upload, i) => putPresigned(upload, specs[i]!.body)));

    // 4. The backend confirms: file-service checks size, MD5 and that the bytes are a JPEG.
    const confirmed = await files.confirmUpload({ ownerId: memory.authorId, fileIds: uploads.map((u) => u.fileId) });
    for (const file of confirmed.files) memory.photos.find((p) => p.fileId === file.id)!.file = file;
    for (const failure of confirmed.failures) console.log(`  ${failure.fileId} not confirmed: ${failure.reason}`);
  }

  // 5. It reads the files back once their variants are made, to show the memories.
  const confirmedIds = memories.flatMap((m) => m.photos.flatMap((p) => (p.file ? [p.file.id] : [])));
  const ready = await files.waitForProcessing(author, confirmedIds, { timeoutMs: 30_000 });
  for (const memory of memories) {
    for (const p of memory.photos) if (p.file) p.file = ready.get(p.file.id) ?? p.file;
    const [thumb] = await files.downloadUrls(author, [memory.photos[0]!.fileId!], { variant: "thumb" });
    console.log(`memory "${memory.title}" (${memory.id}): ${memory.photos.filter((p) => p.file).length} of ${memory.photos.length} photos confirmed`);
    for (const { file } of memory.photos) {
      if (file) console.log(`  ${file.id} ${file.filename} ${file.sizeBytes} bytes ${file.width}x${file.height} variants: ${file.variants.map((v) => v.name).join(",")}`);
    }
    console.log(`  cover thumbnail: ${thumb!.url.replace(/\?.*/, "?…")}`);
  }
} finally {
  files.close();
}
