// Waiting for something another process does (a worker, a sweep, a restart):
// probe until `ok` or the time is up, and hand back the last value so the
// caller's expect() shows what was there instead of a bare timeout.
export async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
