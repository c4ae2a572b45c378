// The shape of the URLs the stock presigner makes for one bucket and operation
// (scheme, host, path-style or virtual-hosted prefix, signing region and
// service, the constant query parameters the SDK adds), learnt once from one
// URL it presigns for a probe key, so no endpoint rule is re-implemented here.
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { ALGORITHM, ALWAYS_UNSIGNABLE, escapeUri, SIGV4_PARAMS, UNSIGNED_PAYLOAD } from "./sigv4-rules.js";

export type Kind = "put" | "get";

const PROBE_KEY = "sigv4-presigner-probe";

/** What one stock URL for a probe key tells about every URL of that bucket and operation. */
export interface Shape {
  method: "PUT" | "GET";
  /** "http://host:port" */
  origin: string;
  /** The path up to the key: "/bucket/" (path-style) or "/" (virtual-hosted). */
  pathPrefix: string;
  /** As the host header is signed. */
  host: string;
  region: string;
  service: string;
  /** Constant query parameters (e.g. x-id=PutObject), raw names and values... */
  constants: [string, string][];
  /** ...and encoded. */
  encodedConstants: [string, string][];
  /**
   * Headers the SDK adds to the request but leaves unsigned by default (user-agent,
   * a default content-type): their values are not in the URL, so a call that
   * would sign them goes to the stock presigner.
   */
  unsignedExtras: string[];
}

/** Learns the URL shape of a bucket and operation from the stock presigner, or null when it is not plain SigV4. */
export async function probe(client: S3Client, kind: Kind, bucket: string): Promise<Shape | null> {
  const command =
    kind === "put"
      ? new PutObjectCommand({ Bucket: bucket, Key: PROBE_KEY })
      : new GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY });
  // Signing the headers that are unsignable by default reveals those the SDK adds.
  const url = await getSignedUrl(client, command, {
    expiresIn: 60,
    signingDate: new Date(0),
    signableHeaders: new Set([...ALWAYS_UNSIGNABLE, "content-type"]),
  });

  const schemeEnd = url.indexOf("://");
  const queryStart = url.indexOf("?");
  if (schemeEnd < 0 || queryStart < 0) return null;
  const pathStart = url.indexOf("/", schemeEnd + 3);
  if (pathStart < 0 || pathStart > queryStart) return null;
  const path = url.slice(pathStart, queryStart);
  if (!path.endsWith(`/${PROBE_KEY}`)) return null;
  const origin = url.slice(0, pathStart);

  let region: string | undefined;
  let service: string | undefined;
  const constants: [string, string][] = [];
  const unsignedExtras: string[] = [];
  for (const pair of url.slice(queryStart + 1).split("&")) {
    const equals = pair.indexOf("=");
    if (equals < 0) return null;
    const name = decodeURIComponent(pair.slice(0, equals));
    const value = decodeURIComponent(pair.slice(equals + 1));
    if (!SIGV4_PARAMS.has(name)) {
      if (escapeUri(name) !== pair.slice(0, equals)) return null; // only plain names
      constants.push([name, value]);
    } else if (name === "X-Amz-Algorithm" && value !== ALGORITHM) {
      return null;
    } else if (name === "X-Amz-Content-Sha256" && value !== UNSIGNED_PAYLOAD) {
      return null;
    } else if (name === "X-Amz-SignedHeaders") {
      const names = value.split(";");
      if (!names.includes("host")) return null;
      for (const header of names) {
        if (header === "host") continue;
        // A header the SDK adds and signs by default: its value is not in the URL.
        if (header !== "content-type" && !ALWAYS_UNSIGNABLE.has(header)) return null;
        unsignedExtras.push(header);
      }
    } else if (name === "X-Amz-Credential") {
      const scope = value.split("/").slice(-4);
      if (scope.length !== 4 || scope[3] !== "aws4_request") return null;
      [, region, service] = scope;
    }
  }
  if (region === undefined || service === undefined) return null;
  return {
    method: kind === "put" ? "PUT" : "GET",
    origin,
    pathPrefix: path.slice(0, path.length - PROBE_KEY.length),
    host: origin.slice(schemeEnd + 3),
    region,
    service,
    constants,
    encodedConstants: constants.map(([name, value]) => [escapeUri(name), escapeUri(value)]),
    unsignedExtras,
  };
}
