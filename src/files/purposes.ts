// What a file is for decides its size limit and its variants.
import { FilePurpose as ProtoPurpose, FilePurposeSchema } from "../../gen/file/v1/file_service_pb.js";
import type { FilePurpose } from "../domain/file.js";

const BY_PROTO: ReadonlyMap<ProtoPurpose, FilePurpose> = new Map([
  [ProtoPurpose.UNSPECIFIED, "unspecified"],
  [ProtoPurpose.PROFILE_PICTURE, "profile_picture"],
  [ProtoPurpose.COVER_PHOTO, "cover_photo"],
  [ProtoPurpose.POST_ATTACHMENT, "post_attachment"],
  [ProtoPurpose.MESSAGE_ATTACHMENT, "message_attachment"],
  [ProtoPurpose.STORY, "story"],
  [ProtoPurpose.AVATAR, "avatar"],
]);
const TO_PROTO = new Map([...BY_PROTO].map(([proto, purpose]) => [purpose, proto]));

/** The record's purpose, or undefined for a value this server does not know. */
export function purposeFromProto(value: ProtoPurpose): FilePurpose | undefined {
  return BY_PROTO.get(value);
}

/** For a purpose number this server does not know: the names it does know, as Connect JSON spells them. */
export function unknownPurposeMessage(field: string, value: number): string {
  const names = FilePurposeSchema.values.map((v) => v.name).join(", ");
  return `${field}: ${value} is not a known purpose: use one of ${names} (or its number)`;
}

export function purposeToProto(purpose: FilePurpose): ProtoPurpose {
  return TO_PROTO.get(purpose) ?? ProtoPurpose.UNSPECIFIED;
}

export interface SizeLimits {
  /** Every purpose but cover photos. */
  maxFileSizeBytes: number;
  maxCoverPhotoSizeBytes: number;
}

export function sizeLimitFor(purpose: FilePurpose, limits: SizeLimits): number {
  return purpose === "cover_photo" ? limits.maxCoverPhotoSizeBytes : limits.maxFileSizeBytes;
}

/** The largest file any purpose admits: what one unary upload message must fit. */
export function largestSizeLimit(limits: SizeLimits): number {
  return Math.max(limits.maxFileSizeBytes, limits.maxCoverPhotoSizeBytes);
}

/** For messages: "profile pictures", "cover photos". */
export function describePurpose(purpose: FilePurpose): string {
  return purpose === "unspecified" ? "files" : `${purpose.replace(/_/g, " ")}s`;
}
