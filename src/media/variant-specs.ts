// Which variants each purpose gets. "cover" fills the box exactly (centre crop,
// enlarging a smaller source); "inside" fits within the box, never enlarged.
import type { FilePurpose } from "../domain/file.js";

export const VARIANT_NAMES = ["thumb", "medium", "large"] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface VariantSpec {
  readonly name: VariantName;
  readonly width: number;
  readonly height: number;
  readonly fit: "cover" | "inside";
}

const SQUARES: readonly VariantSpec[] = [
  { name: "thumb", width: 150, height: 150, fit: "cover" },
  { name: "medium", width: 300, height: 300, fit: "cover" },
  { name: "large", width: 600, height: 600, fit: "cover" },
];

const BANNERS: readonly VariantSpec[] = [
  { name: "thumb", width: 400, height: 150, fit: "cover" },
  { name: "medium", width: 800, height: 300, fit: "cover" },
  { name: "large", width: 1600, height: 600, fit: "cover" },
];

const FITTED: readonly VariantSpec[] = [
  { name: "thumb", width: 320, height: 320, fit: "inside" },
  { name: "large", width: 1080, height: 1080, fit: "inside" },
];

/** The variants of a purpose, smallest first (a fresh array: the caller may keep or change it). */
export function variantSpecsFor(purpose: FilePurpose): VariantSpec[] {
  switch (purpose) {
    case "profile_picture":
    case "avatar":
      return [...SQUARES];
    case "cover_photo":
      return [...BANNERS];
    case "post_attachment":
    case "message_attachment":
    case "story":
    case "unspecified":
      return [...FITTED];
    default: {
      const unknown: never = purpose;
      throw new TypeError(`unknown file purpose ${JSON.stringify(unknown)}`);
    }
  }
}
