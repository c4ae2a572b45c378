import { Code, ConnectError } from "@connectrpc/connect";

/** The error a call failed with; fails the test if it succeeded. */
export async function rpcError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export async function codeOf(promise: Promise<unknown>): Promise<Code> {
  return (await rpcError(promise)).code;
}
