// The scanner against a real clamd with the test's own signature database:
// clean images pass, an image carrying the EICAR test string is infected (by
// name), a file past clamd's limit gets the error verdict (never clean), and a
// clamd that is down is an outage to retry, not a verdict.
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClamdScanner } from "../../src/scanning/clamd-scanner.js";
import { DependencyUnavailableError } from "../../src/domain/errors.js";
import { EICAR, EICAR_SIGNATURE, pngWithText, startClamd, type Clamd } from "../support/clamd.js";
import { solid } from "../support/images.js";
import { freePort } from "../support/service-process.js";

let clamd: Clamd;
beforeAll(async () => {
  clamd = await startClamd({ streamMaxBytes: 1024 * 1024 });
}, 60_000);
afterAll(async () => {
  await clamd?.dispose();
});

const scan = (bytes: Buffer, scanner = createClamdScanner({ url: clamd.url, streamMaxBytes: clamd.streamMaxBytes })) =>
  scanner.scan(Readable.from([bytes]), bytes.length);

describe("the clamd scanner", () => {
  it("passes a clean image and names the signature in an infected one", async () => {
    const png = await solid(64, 48, "png");
    expect(await scan(png)).toEqual({ verdict: "clean" });
    expect(await scan(pngWithText(png, "Comment", EICAR))).toEqual({ verdict: "infected", signature: EICAR_SIGNATURE });
  });

  it("never passes a file larger than clamd takes: the error verdict, with the reason", async () => {
    const big = Buffer.alloc(clamd.streamMaxBytes + 1, 7);
    expect(await scan(big)).toEqual({ verdict: "error", reason: `the file (${big.length} bytes) is larger than the scanner takes (${clamd.streamMaxBytes} bytes)` });
    // Told a larger limit than clamd's own, the scanner hears clamd refuse, and still never says clean.
    const unaware = createClamdScanner({ url: clamd.url, streamMaxBytes: 100 * 1024 * 1024 });
    const outcome = await scan(big, unaware).catch((e: unknown) => e);
    if (outcome instanceof Error) expect(outcome).toBeInstanceOf(DependencyUnavailableError);
    else expect(outcome).toEqual({ verdict: "error", reason: "the file is larger than the scanner takes" });
  });

  it("reports a clamd that does not answer as an outage (retry later), not as a verdict", async () => {
    const nowhere = createClamdScanner({ url: `tcp://127.0.0.1:${await freePort()}`, streamMaxBytes: 1024, timeoutMs: 2_000 });
    await expect(nowhere.scan(Readable.from([Buffer.from("x")]), 1)).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(nowhere.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
    await createClamdScanner({ url: clamd.url, streamMaxBytes: 1024 }).ping();
  });
});
