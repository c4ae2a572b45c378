import { describe, expect, it } from "vitest";
import type { FilePurpose } from "../../src/domain/file.js";
import { variantSpecsFor } from "../../src/media/variant-specs.js";

describe("variantSpecsFor", () => {
  it.each<[FilePurpose, string]>([
    ["profile_picture", "thumb 150x150 cover, medium 300x300 cover, large 600x600 cover"],
    ["avatar", "thumb 150x150 cover, medium 300x300 cover, large 600x600 cover"],
    ["cover_photo", "thumb 400x150 cover, medium 800x300 cover, large 1600x600 cover"],
    ["post_attachment", "thumb 320x320 inside, large 1080x1080 inside"],
    ["message_attachment", "thumb 320x320 inside, large 1080x1080 inside"],
    ["story", "thumb 320x320 inside, large 1080x1080 inside"],
    ["unspecified", "thumb 320x320 inside, large 1080x1080 inside"],
  ])("%s", (purpose, expected) => {
    const specs = variantSpecsFor(purpose);
    expect(specs.map((s) => `${s.name} ${s.width}x${s.height} ${s.fit}`).join(", ")).toBe(expected);
  });

  it("returns a fresh array each time", () => {
    const a = variantSpecsFor("avatar");
    a.pop();
    expect(variantSpecsFor("avatar")).toHaveLength(3);
  });

  it("throws on an unknown purpose", () => {
    expect(() => variantSpecsFor("banner" as FilePurpose)).toThrow(TypeError);
  });
});
