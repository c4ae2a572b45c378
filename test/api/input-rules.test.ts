// Bad input gets InvalidArgument naming the field and the rule, and loses
// nothing: no row is written for any file of a refused batch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { FileStatus } from "../../gen/file/v1/file_service_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { fileSpec, pngLikeBytes } from "../support/upload.js";
import { rpcError } from "../support/rpc.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.stop();
});

const MIB = 1024 * 1024;
const bytes = pngLikeBytes(64);
const good = fileSpec(bytes);

/** Rows the owner has in any state. */
async function rowCount(owner: string): Promise<number> {
  const rows = await svc.files.list({ ownerId: owner, statuses: ["pending", "uploaded", "deleted"], limit: 1000 });
  return rows.length;
}

describe("GenerateUploadURLs input rules", () => {
  const cases: Array<[string, ReturnType<typeof fileSpec>[], RegExp]> = [
    ["no files", [], /files: at least one file/],
    ["11 files", Array.from({ length: 11 }, () => good), /files: at most 10 files per batch \(got 11\)/],
    ["10 MiB + 1", [{ ...good, sizeBytes: BigInt(10 * MIB + 1) }], /files\[0\]\.size_bytes: must be from 1 to 10485760 bytes/],
    ["0 bytes", [{ ...good, sizeBytes: 0n }], /files\[0\]\.size_bytes/],
    ["an .exe", [{ ...good, filename: "setup.exe", contentType: "application/octet-stream" }], /files\[0\]\.filename: extension "\.exe" is not allowed/],
    ["a PNG named .jpg", [{ ...good, filename: "photo.jpg", contentType: "image/png" }], /files\[0\]\.content_type: image\/png does not match the filename extension \.jpg/],
    ["no extension", [{ ...good, filename: "photo" }], /files\[0\]\.filename: extension "\(none\)"/],
    ["a name that is only a path", [{ ...good, filename: "../" }], /files\[0\]\.filename: is required/],
    ["text/html", [{ ...good, filename: "x.png", contentType: "text/html" }], /files\[0\]\.content_type: "text\/html" is not allowed/],
    ["an MD5 of 15 bytes", [{ ...good, md5: Buffer.alloc(15).toString("base64") }], /files\[0\]\.md5: must be the base64 of a 16-byte MD5/],
    ["an MD5 in hex", [{ ...good, md5: "d41d8cd98f00b204e9800998ecf8427e" }], /files\[0\]\.md5/],
  ];

  for (const [name, files, message] of cases) {
    it(`refuses ${name}, naming the field and rule, and writes nothing`, async () => {
      const owner = `rules-${name.replace(/\W+/g, "-")}`;
      // The bad file rides along with good ones: none of them may be recorded.
      const wrapped = files.length === 1;
      const batch = wrapped ? [good, ...files, good] : files;
      const error = await rpcError(svc.serviceClient().generateUploadURLs({ ownerId: owner, files: batch }));
      expect(error.code).toBe(Code.InvalidArgument);
      // With the bad file wrapped between good ones, it is files[1].
      expect(error.rawMessage).toMatch(wrapped ? new RegExp(message.source.replace("files\\[0\\]", "files\\[1\\]")) : message);
      expect(await rowCount(owner)).toBe(0);
    });
  }

  it("reports every violation of a batch at once", async () => {
    const error = await rpcError(
      svc.serviceClient().generateUploadURLs({
        ownerId: "rules-many",
        files: [{ ...good, filename: "a.exe" }, good, { ...good, sizeBytes: 0n, md5: "x" }],
      }),
    );
    expect(error.rawMessage).toContain("files[0].filename");
    expect(error.rawMessage).toContain("files[2].size_bytes");
    expect(error.rawMessage).toContain("files[2].md5");
    expect(error.rawMessage).not.toContain("files[1]");
  });

  it("accepts exactly 10 files of exactly 10 MiB, and every allowed type", async () => {
    const files = Array.from({ length: 10 }, (_, i) => ({
      ...good,
      sizeBytes: BigInt(10 * MIB),
      ...[
        { filename: "a.jpg", contentType: "image/jpeg" },
        { filename: "a.JPEG", contentType: "image/jpeg" },
        { filename: "a.png", contentType: "image/png" },
        { filename: "a.gif", contentType: "image/gif" },
        { filename: "a.webp", contentType: "IMAGE/WEBP" },
      ][i % 5],
    }));
    const { uploads } = await svc.serviceClient().generateUploadURLs({ ownerId: "rules-max", files });
    expect(uploads).toHaveLength(10);
    expect(await rowCount("rules-max")).toBe(10);
    expect(uploads[4]!.headers["Content-Type"]).toBe("image/webp");
  });

  it("sanitizes filenames: no path parts, no control or bidi characters, at most 255 bytes", async () => {
    const long = `${"é".repeat(200)}.png`; // 405 bytes
    const { uploads } = await svc.serviceClient().generateUploadURLs({
      ownerId: "rules-names",
      files: [
        { ...good, filename: "C:\\fakepath\\cat\u0000\u001b.png" },
        { ...good, filename: "evil\u202Egnp.png" },
        { ...good, filename: long },
      ],
    });
    const { files } = await svc.serviceClient().batchGetFiles({ ownerId: "rules-names", fileIds: uploads.map((u) => u.fileId) });
    expect(files[0]!.filename).toBe("cat.png");
    expect(files[1]!.filename).toBe("evilgnp.png");
    expect(Buffer.byteLength(files[2]!.filename)).toBeLessThanOrEqual(255);
    expect(files[2]!.filename.endsWith(".png")).toBe(true);
    expect(files[2]!.filename).not.toContain("\uFFFD");
  });
});

describe("other input rules", () => {
  it("requires owner_id from a service", async () => {
    const error = await rpcError(svc.serviceClient().generateUploadURLs({ files: [good] }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain("owner_id: is required");
  });

  it("refuses owner ids that could alias another owner", async () => {
    const padded = await rpcError(svc.serviceClient().listFiles({ ownerId: "alice " }));
    expect(padded.code).toBe(Code.InvalidArgument);
    expect(padded.rawMessage).toBe("owner_id: must not start or end with whitespace");
    expect((await rpcError(svc.serviceClient().listFiles({ ownerId: "x".repeat(256) }))).rawMessage).toContain(
      "at most 255 bytes",
    );
  });

  it("refuses malformed ids, empty and oversized id lists, and bad expiries", async () => {
    const client = svc.serviceClient();
    const owner = "rules-ids";
    expect((await rpcError(client.getFile({ ownerId: owner, fileId: "nope" }))).rawMessage).toContain(
      'file_id: "nope" is not a file id',
    );
    expect((await rpcError(client.batchGetFiles({ ownerId: owner, fileIds: [] }))).code).toBe(Code.InvalidArgument);
    const many = Array.from({ length: 101 }, () => "0190a000-0000-7000-8000-000000000000");
    expect((await rpcError(client.confirmUpload({ ownerId: owner, fileIds: many }))).rawMessage).toContain(
      "at most 100 ids",
    );
    const { uploads } = await client.generateUploadURLs({ ownerId: owner, files: [good] });
    expect(
      (await rpcError(client.getDownloadURLs({ ownerId: owner, fileIds: [uploads[0]!.fileId], expirySeconds: 604801 })))
        .code,
    ).toBe(Code.InvalidArgument);
    expect((await rpcError(client.listFiles({ ownerId: owner, status: FileStatus.UNSPECIFIED }))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("gives NotFound for unknown files", async () => {
    const error = await rpcError(
      svc.serviceClient().getFile({ ownerId: "rules-nf", fileId: "0190a000-0000-7000-8000-000000000000" }),
    );
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("file 0190a000-0000-7000-8000-000000000000 not found");
  });
});

// Connect JSON spells enum values by their full proto names. A name the server
// does not know used to be read silently as FILE_PURPOSE_UNSPECIFIED.
describe("enum names in Connect JSON", () => {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${svc.httpUrl}/file.v1.FileService/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${await svc.userToken("json-enums")}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { code?: string; message?: string; uploads?: unknown[] } };
  };
  const file = (purpose: unknown) => ({ ...good, sizeBytes: String(good.sizeBytes), purpose });

  it("takes the full names and the numbers", async () => {
    for (const purpose of ["FILE_PURPOSE_PROFILE_PICTURE", 1]) {
      const res = await post("GenerateUploadURLs", { files: [file(purpose)] });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  });

  it("refuses a short or unknown name, naming the field and the valid names", async () => {
    const res = await post("GenerateUploadURLs", { files: [file("PROFILE_PICTURE")] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toBe(
      'files[0].purpose: "PROFILE_PICTURE" is not a file.v1.FilePurpose: use one of FILE_PURPOSE_UNSPECIFIED, FILE_PURPOSE_PROFILE_PICTURE, ' +
        "FILE_PURPOSE_COVER_PHOTO, FILE_PURPOSE_POST_ATTACHMENT, FILE_PURPOSE_MESSAGE_ATTACHMENT, FILE_PURPOSE_STORY, FILE_PURPOSE_AVATAR, or its number",
    );
    expect(await rowCount("json-enums")).toBe(2); // only the two accepted above
  });

  it("names the very field among several, however deep", async () => {
    const res = await post("GenerateUploadURLs", { files: [file("FILE_PURPOSE_AVATAR"), file("FILE_PURPOSE_AVATAR"), file("avatar")] });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^files\[2\]\.purpose: "avatar" is not a file\.v1\.FilePurpose: use one of FILE_PURPOSE_UNSPECIFIED, /);
    const status = await post("ListFiles", { status: "UPLOADED" });
    expect(status.status).toBe(400);
    expect(status.body.message).toMatch(/^status: "UPLOADED" is not a file\.v1\.FileStatus: use one of FILE_STATUS_UNSPECIFIED, FILE_STATUS_PENDING, /);
    expect(await rowCount("json-enums")).toBe(2);
  });

  it("refuses an unknown number, naming the valid names", async () => {
    const res = await post("GenerateUploadURLs", { files: [file(99)] });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^files\[0\]\.purpose: 99 is not a known purpose: use one of FILE_PURPOSE_UNSPECIFIED, FILE_PURPOSE_PROFILE_PICTURE, .*FILE_PURPOSE_AVATAR \(or its number\)$/);
  });

  it("names a misspelt field instead of ignoring it", async () => {
    const res = await post("GetFile", { fileID: "0190a000-0000-7000-8000-000000000000" });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/key "fileID" is unknown/);
  });

  it("names the statuses a ListFiles filter takes", async () => {
    const res = await post("ListFiles", { status: "FILE_STATUS_UNSPECIFIED" });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^status: must be one of FILE_STATUS_PENDING, FILE_STATUS_UPLOADED, FILE_STATUS_DELETED/);
  });
});
