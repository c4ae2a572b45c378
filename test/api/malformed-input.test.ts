// Undecodable input is the caller's fault. Fuzzes every RPC on both listeners
// over every protocol they serve with bodies that are not valid messages
// (random bytes, broken varints, bad wire types, invalid UTF-8, truncated or
// mis-flagged envelopes, broken JSON) and holds the service to: never
// `internal`/`unknown`, never an HTTP 5xx, never a decoder's text in the message.
//
// Seeded and bounded for `npm test`; a longer run on demand:
//   FUZZ_RUNS=20000 FUZZ_SEED=$RANDOM npx vitest run test/api/malformed-input.test.ts
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { envelope, rawH1Call, rawH2Client, type RawAnswer, type RawH2Client, type RawProtocol } from "../support/raw-rpc.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);

let svc: TestService;
let h2: RawH2Client;
let token: string;
beforeAll(async () => {
  svc = await startTestService();
  h2 = rawH2Client(svc.grpcUrl, { ca: svc.pki.ca, cert: svc.pki.hangout.cert, key: svc.pki.hangout.key });
  token = await svc.userToken("fuzz-user");
});
afterAll(async () => {
  h2?.close();
  await svc?.stop();
});

const methodsOf = (...services: DescService[]) => services.flatMap((s) => s.methods);
const internalMethods = methodsOf(FileService, Health, ReflectionV1, ReflectionV1alpha);
const publicMethods = methodsOf(FileService, Health);

interface Target {
  listener: "internal" | "public";
  protocol: RawProtocol;
  method: DescMethod;
}
const targets: Target[] = [
  ...(["grpc", "grpc-web", "connect-proto", "connect-json"] as const).flatMap((protocol) =>
    internalMethods.map((method) => ({ listener: "internal" as const, protocol, method })),
  ),
  // The public listener is HTTP/1.1: no gRPC, and no bidi streams.
  ...(["grpc-web", "connect-proto", "connect-json"] as const).flatMap((protocol) =>
    publicMethods.filter((m) => m.methodKind !== "bidi_streaming").map((method) => ({ listener: "public" as const, protocol, method })),
  ),
];

const bytes = (...b: number[]) => Uint8Array.from(b);
/** Inputs the protobuf decoder refuses in different places. */
const brokenProtobuf = [
  bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // varint overflow
  bytes(0x08), // truncated varint
  bytes(0x0a, 0x05, 0x61, 0x62), // length past the end (premature EOF)
  bytes(0x0a, 0x02, 0xc3, 0x28), // invalid UTF-8 in field 1 (a string in most of our requests)
  bytes(0x12, 0x02, 0xc3, 0x28), // the same in field 2
  bytes(0x0f), // wire type 7 does not exist
  bytes(0x0b, 0x08, 0x01), // a group that never ends
  bytes(0x00), // field number 0
];
const brokenJson = ["", "{", "[1,2", '{"fileId": 5}', '{"ownerId": {}}', '{"files": "x"}', "null", '"\\ud800"', '{"purpose": "NOT_A_PURPOSE"}'].map((s) =>
  new TextEncoder().encode(s),
);

const payloadFor = (protocol: RawProtocol) =>
  protocol === "connect-json"
    ? fc.oneof(fc.constantFrom(...brokenJson), fc.string({ maxLength: 40 }).map((s) => new TextEncoder().encode(s)), fc.uint8Array({ maxLength: 40 }))
    : fc.oneof(fc.constantFrom(...brokenProtobuf), fc.uint8Array({ maxLength: 48 }));

/** Mostly well-formed envelopes around bad payloads; sometimes the envelope itself is broken. */
const envelopeShape = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ flags: 0, lengthDelta: 0 }) },
  { weight: 1, arbitrary: fc.record({ flags: fc.integer({ min: 0, max: 255 }), lengthDelta: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.record({ flags: fc.constant(0), lengthDelta: fc.integer({ min: -3, max: 1000 }) }) },
);

async function send(target: Target, payload: Uint8Array, shape: { flags: number; lengthDelta: number }): Promise<RawAnswer> {
  const { method, protocol } = target;
  const streaming = method.methodKind !== "unary";
  const enveloped = protocol === "grpc" || protocol === "grpc-web" || streaming;
  const body = enveloped ? envelope(payload, shape.flags, Math.max(0, payload.length + shape.lengthDelta)) : payload;
  const request = { path: `/${method.parent.typeName}/${method.name}`, protocol, streaming, body };
  return target.listener === "internal"
    ? h2.call(request)
    : rawH1Call(svc.httpUrl, { ...request, headers: { authorization: `Bearer ${token}` } });
}

/** The service's answer to one malformed request must be the caller's error, in plain words. */
async function expectCallersError(target: Target, payload: Uint8Array, shape: { flags: number; lengthDelta: number }) {
  const answer = await send(target, payload, shape);
  const where = `${target.listener} ${target.protocol} ${target.method.parent.typeName}/${target.method.name} ${Buffer.from(payload).toString("hex")} ${JSON.stringify(shape)}`;
  expect(["internal", "unknown", "data_loss"], where).not.toContain(answer.code);
  expect(answer.httpStatus, where).toBeLessThan(500);
  expect(answer.message, where).not.toMatch(/parse binary|varint|premature EOF|wire type|\bat \w+ \(/i);
}

describe("malformed requests", () => {
  // The random runs below may miss a few of the ~110 targets: each gets one
  // known-broken body here, whatever the seed.
  it(`get a caller's error on each of the ${targets.length} RPCs, listeners and protocols`, async () => {
    for (const [i, target] of targets.entries()) {
      const known = target.protocol === "connect-json" ? brokenJson : brokenProtobuf;
      await expectCallersError(target, known[i % known.length]!, { flags: 0, lengthDelta: 0 });
    }
  });

  it(`get a caller's error, never internal or 5xx, on every RPC and protocol (${RUNS} runs, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets).chain((target) => fc.tuple(fc.constant(target), payloadFor(target.protocol), envelopeShape)),
        ([target, payload, shape]) => expectCallersError(target, payload, shape),
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  // The repro, as printed there: a GetFile body that is one broken varint.
  it.each([
    ["public", "connect-proto"],
    ["public", "grpc-web"],
    ["internal", "grpc"],
    ["internal", "grpc-web"],
    ["internal", "connect-proto"],
  ] as const)("GetFile with an invalid varint on the %s listener over %s is invalid_argument with a plain message", async (listener, protocol) => {
    const method = FileService.method.getFile;
    const answer = await send({ listener, protocol, method }, brokenProtobuf[0]!, { flags: 0, lengthDelta: 0 });
    expect(answer.code).toBe("invalid_argument");
    if (protocol === "connect-proto") expect(answer.httpStatus).toBe(400);
    expect(answer.message).toBe("the request is not a valid file.v1.GetFileRequest message");
  });
});

describe("a compressed envelope without a declared encoding", () => {
  it.each(["grpc", "grpc-web"] as const)("is invalid_argument over %s", async (protocol) => {
    const answer = await send({ listener: "internal", protocol, method: FileService.method.getFile }, bytes(0x0a, 0x01, 0x61), { flags: 1, lengthDelta: 0 });
    expect(answer.code).toBe("invalid_argument");
  });
});
