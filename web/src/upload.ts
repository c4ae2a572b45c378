// One picture's way in: MD5 in the browser, a presigned URL, the PUT with
// progress, then the confirmation that turns it into a file.
import { md5 } from "hash-wasm";
import { ConnectError, Code } from "@connectrpc/connect";
import type { File as StoredFile, PresignedUpload } from "../../gen/file/v1/file_service_pb.js";
import { FilePurpose } from "../../gen/file/v1/file_service_pb.js";
import { files } from "./api.js";

export async function base64Md5(file: Blob): Promise<string> {
  const hex = await md5(new Uint8Array(await file.arrayBuffer()));
  return btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));
}

/** Asks for one presigned upload per picture, in the order given. */
export async function requestUploads(pictures: readonly File[]): Promise<PresignedUpload[]> {
  const specs = await Promise.all(
    pictures.map(async (p) => ({
      filename: p.name,
      contentType: p.type || "application/octet-stream",
      sizeBytes: BigInt(p.size),
      md5: await base64Md5(p),
      purpose: FilePurpose.POST_ATTACHMENT,
    })),
  );
  const { uploads } = await files.generateUploadURLs({ files: specs, idempotencyKey: crypto.randomUUID() });
  return uploads;
}

/** PUTs the bytes with the headers the service signed, reporting progress from 0 to 1. */
export function put(upload: PresignedUpload, body: Blob, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    // The browser sets Content-Length (and Host) itself and refuses them from scripts.
    for (const [name, value] of Object.entries(upload.headers)) {
      if (!/^(content-length|host)$/i.test(name)) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      reject(new ConnectError(`upload of the bytes failed: HTTP ${xhr.status} ${xhr.responseText.slice(0, 200)}`, Code.Unavailable));
    };
    xhr.onerror = () => reject(new ConnectError("upload of the bytes failed: network error", Code.Unavailable));
    xhr.send(body);
  });
}

export async function confirm(fileId: string): Promise<StoredFile> {
  const { files: confirmed, failures } = await files.confirmUpload({ fileIds: [fileId] });
  if (failures.length > 0) throw new ConnectError(failures[0]!.reason, Code.FailedPrecondition);
  return confirmed[0]!;
}
