// Decorates every method of an object (a repository, a store) without
// listing them: a Proxy that wraps each function on first use and hands out
// the same wrapper after that. Used for telemetry and for cache invalidation,
// so a method added to an interface is covered without anyone remembering to.

export type MethodWrapper = (name: string, original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown;

export function wrapMethods<T extends object>(target: T, wrap: MethodWrapper): T {
  const wrappers = new Map<PropertyKey, { original: unknown; wrapped: unknown }>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      const known = wrappers.get(property);
      if (known?.original === value) return known.wrapped;
      const wrapped = wrap(String(property), value as (...args: unknown[]) => unknown);
      wrappers.set(property, { original: value, wrapped });
      return wrapped;
    },
  });
}
