// The calling RPC's end (its deadline passing, or the caller going away) as an
// AbortSignal for the database and object-store calls made on its behalf,
// without threading it through every use case and repository method: the
// transport runs each handler inside withCall(), the repositories and stores
// read currentCall(). Work that must finish whatever the caller does (cleaning
// up after a failed upload) runs detached().
import { AsyncLocalStorage } from "node:async_hooks";

export interface CallScope {
  signal: AbortSignal;
  /** Why the signal aborted: the deadline passed, or the caller cancelled (or the call ended). */
  why(): "deadline" | "cancelled";
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
