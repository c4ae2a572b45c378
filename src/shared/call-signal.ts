// The calling RPC's end (its deadline passing, the caller going away, or the
// service's own time for the call running out) as an AbortSignal for the
// database and object-store calls made on its behalf, without threading it
// through every use case and repository method: the transport runs each
// handler inside withCall(), the repositories and stores read currentCall().
// Work that must finish whatever the caller does (cleaning up after a failed
// upload) runs detached().
import { AsyncLocalStorage } from "node:async_hooks";
import { CallEndedError, DependencyUnavailableError, type Dependency, type FileError } from "../domain/errors.js";

/** Why a call's signal aborted: the caller's deadline passed, the caller went away, or the service's CALL_TIMEOUT_MS ran out. */
export type CallEnd = "deadline" | "cancelled" | "out_of_time";

export interface CallScope {
  signal: AbortSignal;
  why(): CallEnd;
}

const current = new AsyncLocalStorage<CallScope | undefined>();

/** Runs `run(...args)` inside the call's scope (arguments rather than a closure: one per RPC is one too many). */
export function withCall<A extends unknown[], T>(scope: CallScope, run: (...args: A) => T, ...args: A): T {
  return current.run(scope, run, ...args);
}

/** Runs `run` outside any call: no caller's end stops it. */
export function detached<T>(run: () => T): T {
  return current.run(undefined, run);
}

export function currentCall(): CallScope | undefined {
  return current.getStore();
}

/**
 * What a request to `dependency` that the call's end cut short answers: the
 * caller's own end (DeadlineExceeded, Canceled), or, when the service's time for
 * the call ran out, the dependency being too slow to serve it (Unavailable).
 */
export function cutShort(call: CallScope, dependency: Dependency): FileError {
  const why = call.why();
  return why === "out_of_time"
    ? new DependencyUnavailableError(dependency, new Error("CALL_TIMEOUT_MS passed"), `${dependency} did not answer within the call's time limit`)
    : new CallEndedError(why, dependency);
}
