// Failures of what the service depends on. The storage and persistence layers
// throw this; the RPC edge turns it into Code.Unavailable (the caller may retry),
// and logs the cause, which never reaches the caller.
export class DependencyUnavailableError extends Error {
  readonly dependency: "database" | "object store";

  constructor(dependency: "database" | "object store", cause: unknown) {
    super(`${dependency} is unavailable`, { cause });
    this.name = "DependencyUnavailableError";
    this.dependency = dependency;
  }
}
