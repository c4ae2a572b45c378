// Faults at a chosen statement, for in-process tests of "the process dies
// between these two steps": a wrapper that lets the first `after` calls of a
// method through and then fails that method (as a process killed there would
// never make the call), or one whose call commits and then reports a failure.
import { wrapMethods } from "../../src/shared/wrap-methods.js";

export class InjectedCrash extends Error {
  constructor(method: string) {
    super(`injected crash before ${method}`);
    this.name = "InjectedCrash";
  }
}

export interface FaultPlan {
  /** The method to fail. */
  method: string;
  /** Calls of it that go through first (default 0). */
  after?: number;
  /** "before": the call never happens; "after": it happens, then the caller sees a failure. */
  when?: "before" | "after";
}

/** `target` with the plan's fault; `fired()` tells whether it happened. */
export function withFault<T extends object>(target: T, plan: FaultPlan): T & { fired(): boolean } {
  let calls = 0;
  let fired = false;
  const wrapped = wrapMethods(target, (name, original) => {
    if (name !== plan.method) return original.bind(target);
    return async (...args: unknown[]) => {
      if (fired || calls++ < (plan.after ?? 0)) return original.apply(target, args);
      fired = true;
      if (plan.when === "after") await original.apply(target, args);
      throw new InjectedCrash(plan.method);
    };
  });
  return Object.assign(wrapped, { fired: () => fired });
}
