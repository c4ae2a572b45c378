// Reading driver errors, which drizzle wraps (DrizzleQueryError) and drivers
// wrap again: one walk down the cause chain, shared by both repositories and
// the migrator, as connect-node reads Node's errors in one place.
import { CallEndedError, DependencyUnavailableError } from "../domain/errors.js";
import { currentCall, cutShort } from "../shared/call-signal.js";

/** How far down the cause chain to look; real chains are two or three deep. */
const MAX_DEPTH = 5;

type ErrorFields = Partial<Record<"code" | "fatal" | "syscall" | "message" | "sqlState" | "cause", unknown>>;

/** The first error in the chain `test` accepts, or undefined. */
export function findInCauseChain(error: unknown, test: (fields: ErrorFields) => boolean): ErrorFields | undefined {
  for (let current: unknown = error, depth = 0; depth < MAX_DEPTH && typeof current === "object" && current !== null; depth++) {
    const fields = current as ErrorFields;
    if (test(fields)) return fields;
    current = fields.cause;
  }
  return undefined;
}

/** The innermost Error of the chain: the driver's own words. */
export function rootCause(error: unknown): unknown {
  let root = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root;
}

/**
 * DependencyUnavailableError("database") when some error of the chain says the
 * database cannot serve us right now (`unavailable`), else the error itself:
 * "this statement is wrong" (duplicate key, syntax...) is a bug, not an outage.
 */
export function classifyDatabaseError(error: unknown, unavailable: (fields: ErrorFields) => boolean): unknown {
  if (error instanceof DependencyUnavailableError) return error;
  return findInCauseChain(error, unavailable) === undefined ? error : new DependencyUnavailableError("database", error);
}

/**
 * Runs a repository operation, mapping its failure with `classify`. With
 * `timeoutMs`, an operation still running then fails as the database being
 * unavailable (a stalled server or link answers the caller within the bound;
 * the statement itself is left to its connection). Inside an RPC (see
 * shared/call-signal.ts), the call's end stops the wait too (cutShort: the
 * caller's deadline or cancel, or the call's own time running out).
 */
export async function runClassified<T>(operation: () => Promise<T>, classify: (error: unknown) => unknown, timeoutMs?: number): Promise<T> {
  const call = currentCall();
  let timer: NodeJS.Timeout | undefined;
  let onEnd: (() => void) | undefined;
  try {
    if (timeoutMs === undefined && call === undefined) return await operation();
    if (call?.signal.aborted) throw cutShort(call, "database");
    const waits = [operation()];
    if (timeoutMs !== undefined) {
      waits.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DependencyUnavailableError("database", new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
        }),
      );
    }
    if (call !== undefined) {
      waits.push(
        new Promise<never>((_, reject) => {
          onEnd = () => reject(cutShort(call, "database"));
          call.signal.addEventListener("abort", onEnd, { once: true });
        }),
      );
    }
    return await Promise.race(waits);
  } catch (error) {
    throw error instanceof CallEndedError || error instanceof DependencyUnavailableError ? error : classify(error);
  } finally {
    clearTimeout(timer);
    if (onEnd !== undefined) call!.signal.removeEventListener("abort", onEnd);
  }
}
