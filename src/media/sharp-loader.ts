// sharp (libvips) is loaded on the first image, not at start: a process that
// never sees an image (a read replica of the API, a worker-less instance)
// never maps it, and start-up skips its native load (measured in
// bench/scenarios/footprint.ts).
import type sharpType from "sharp";

export type Sharp = typeof sharpType;

let loading: Promise<Sharp> | undefined;

export function loadSharp(): Promise<Sharp> {
  loading ??= import("sharp").then((module) => module.default);
  return loading;
}
