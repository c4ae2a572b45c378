// The call's end as the repositories see it (runClassified), without a socket:
// a deadline, a cancel, a call that never ends, and detached clean-up work.
import { describe, expect, it } from "vitest";
import { runClassified } from "../../src/db/driver-errors.js";
import { CallEndedError } from "../../src/domain/errors.js";
import { detached, withCall, type CallScope } from "../../src/shared/call-signal.js";

const never = () => new Promise<never>(() => {});
const scope = (why: "deadline" | "cancelled"): CallScope & { end(): void } => {
  const controller = new AbortController();
  return { signal: controller.signal, why: () => why, end: () => controller.abort() };
};

describe("a repository operation inside a call", () => {
  it("stops waiting when the call's deadline passes, saying so", async () => {
    const call = scope("deadline");
    const waiting = withCall(call, () => runClassified(never, (e) => e));
    call.end();
    await expect(waiting).rejects.toThrow(new CallEndedError("deadline", "database"));
    await expect(waiting).rejects.toMatchObject({ reason: "deadline_exceeded" });
  });

  it("is refused at once when the caller already went away", async () => {
    const call = scope("cancelled");
    call.end();
    let ran = false;
    const refused = withCall(call, () => runClassified(async () => void (ran = true), (e) => e));
    await expect(refused).rejects.toMatchObject({ reason: "cancelled" });
    expect(ran).toBe(false);
  });

  it("answers as usual while the call lasts, and detached work ignores the call's end", async () => {
    const call = scope("cancelled");
    expect(await withCall(call, () => runClassified(async () => 42, (e) => e))).toBe(42);
    let release!: (v: string) => void;
    const cleanup = withCall(call, () => detached(() => runClassified(() => new Promise<string>((r) => (release = r)), (e) => e)));
    call.end();
    release("done");
    expect(await cleanup).toBe("done");
  });

  it("keeps its own bound outside any call", async () => {
    await expect(runClassified(never, (e) => e, 20)).rejects.toMatchObject({ reason: "unavailable" });
  });
});
