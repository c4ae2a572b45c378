// The verifier remembers tokens it verified (a repeat skips the signature
// check): it must never accept a remembered token that a fresh verification
// would refuse.
import { Code, ConnectError } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createJwtVerifier } from "../../src/auth/jwt-verifier.js";

const SECRET = "unit-test-secret-of-at-least-32-bytes";
const settings = { secret: SECRET, algorithms: ["HS256"], issuer: "https://auth.test", audience: "file-service" };

const sign = (edit: (jwt: SignJWT) => SignJWT = (j) => j, secret = SECRET) =>
  edit(
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setExpirationTime("5m"),
  ).sign(new TextEncoder().encode(secret));

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("createJwtVerifier", () => {
  it("accepts a valid token again and again", async () => {
    const verify = createJwtVerifier(settings);
    const token = await sign();
    for (let i = 0; i < 3; i++) expect(await verify(token)).toEqual({ subject: "alice" });
  });

  it("refuses a remembered token once it expires (beyond the 30 s clock tolerance)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = new Date("2030-01-01T00:00:00Z");
    vi.setSystemTime(start);
    const verify = createJwtVerifier(settings);
    const exp = Math.floor(start.getTime() / 1000) + 10;
    const token = await sign((j) => j.setExpirationTime(exp));
    expect(await verify(token)).toEqual({ subject: "alice" });

    vi.setSystemTime(new Date((exp + 29) * 1000)); // within the tolerance: still accepted
    expect(await verify(token)).toEqual({ subject: "alice" });
    vi.setSystemTime(new Date((exp + 30) * 1000)); // jose's rule: exp <= now - tolerance is expired
    const error = await refusal(verify(token));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toBe("invalid token: expired");
  });

  it("re-verifies a remembered token after a minute (a withdrawn key stops working)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = new Date("2030-01-01T00:00:00Z");
    vi.setSystemTime(start);
    const verify = createJwtVerifier(settings);
    const token = await sign((j) => j.setExpirationTime("1h"));
    expect(await verify(token)).toEqual({ subject: "alice" });
    // Signed with another key than this verifier's: only a fresh check notices.
    const other = createJwtVerifier({ ...settings, secret: "another-secret-of-at-least-32-bytes!" });
    expect((await refusal(other(token))).rawMessage).toMatch(/signature/);

    vi.setSystemTime(new Date(start.getTime() + 61_000));
    expect(await verify(token)).toEqual({ subject: "alice" }); // verified afresh, still valid
  });

  it("does not remember refusals, nor confuse tokens that differ in their signature", async () => {
    const verify = createJwtVerifier(settings);
    const good = await sign();
    const forged = `${good.slice(0, good.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    expect(await verify(good)).toEqual({ subject: "alice" });
    expect((await refusal(verify(forged))).rawMessage).toMatch(/signature/);
    expect((await refusal(verify(forged))).rawMessage).toMatch(/signature/);
    const wrongAudience = await sign((j) => j.setAudience("other"));
    expect((await refusal(verify(wrongAudience))).rawMessage).toMatch(/aud/);
  });

  it("keeps algorithms pinned: an HS384 token is refused when only HS256 is allowed", async () => {
    const verify = createJwtVerifier(settings);
    const hs384 = await new SignJWT({})
      .setProtectedHeader({ alg: "HS384" })
      .setSubject("alice")
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));
    expect((await refusal(verify(hs384))).code).toBe(Code.Unauthenticated);
    // Allowed, it verifies with its own imported key.
    const both = createJwtVerifier({ ...settings, algorithms: ["HS256", "HS384"] });
    expect(await both(hs384)).toEqual({ subject: "alice" });
    expect(await both(await sign())).toEqual({ subject: "alice" });
  });
});
