// File ids: UUIDv7 from a pool of random bytes (src/files/file-ids.ts). What the
// ids promise: valid v7, in creation order even within one millisecond, unique
// across refills of the pool.
import { describe, expect, it } from "vitest";
import { validate, version } from "uuid";
import { newFileId } from "../../src/files/file-ids.js";

describe("newFileId", () => {
  it("makes valid v7 UUIDs that sort in the order they were made, across pool refills", () => {
    const before = Date.now();
    // More than one pool (256 ids) several times over, most of them within the same millisecond.
    const ids = Array.from({ length: 5_000 }, () => newFileId());
    const after = Date.now();
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      // RFC 9562 variant bits: 10xx.
      expect(["8", "9", "a", "b"]).toContain(id[19]);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The first 48 bits are the time of making, in ms (a sequence overflow may carry a few ms ahead).
    const msOf = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16);
    expect(msOf(ids[0]!)).toBeGreaterThanOrEqual(before);
    expect(msOf(ids.at(-1)!)).toBeLessThanOrEqual(after + 5);
  });

  it("draws fresh random bits for each id", () => {
    // Beyond the sequence (the 32 bits after the version nibble and variant), the last 8 bytes' tail is random.
    const tails = Array.from({ length: 1_000 }, () => newFileId().slice(-10));
    expect(new Set(tails).size).toBeGreaterThan(990);
  });
});
