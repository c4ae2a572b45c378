// The loop behind the background workers (processing, the outbox): claim up to
// the free slots, run each claimed item, look again at once after a full
// batch, otherwise sleep until the poll interval or a notify(). Claims come
// from the database, so every instance may run one: see the repositories.

export interface ClaimLoopOptions<T> {
  /** Items run at once. */
  concurrency: number;
  /** How often to look for work when idle. */
  pollMs: number;
  claim(limit: number): Promise<T[]>;
  run(item: T): Promise<unknown>;
  /** Told when a claim or a run throws (a run should handle its own errors). */
  onError(err: unknown, item?: T): void;
  /** Called once per round before claiming (e.g. a sweep); its errors go to onError. */
  beforeClaim?: () => Promise<unknown>;
}

export interface ClaimLoop {
  start(): void;
  /** Looks for work now. */
  notify(): void;
  /** Stops claiming and waits (at most `timeoutMs`) for running items; unfinished ones are resumed elsewhere. */
  stop(timeoutMs: number): Promise<void>;
}

export function createClaimLoop<T>(options: ClaimLoopOptions<T>): ClaimLoop {
  const { concurrency, pollMs } = options;
  const running = new Set<Promise<unknown>>();
  let stopped = true;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  async function round(): Promise<boolean> {
    if (options.beforeClaim) await options.beforeClaim().catch((err: unknown) => options.onError(err));
    const free = concurrency - running.size;
    if (free <= 0) return false;
    let items: T[];
    try {
      items = await options.claim(free);
    } catch (err) {
      options.onError(err);
      return false;
    }
    for (const item of items) {
      const task: Promise<unknown> = options
        .run(item)
        .catch((err: unknown) => options.onError(err, item))
        .finally(() => {
          running.delete(task);
          wake?.();
        });
      running.add(task);
    }
    // A full batch suggests more is due: look again at once.
    return items.length > 0 && items.length === free;
  }

  async function run() {
    while (!stopped) {
      if (await round()) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start() {
      if (!stopped || concurrency < 1) return;
      stopped = false;
      loop = run();
    },
    notify() {
      wake?.();
    },
    async stop(timeoutMs) {
      stopped = true;
      wake?.();
      await loop;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...running]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
