// An example value in protobuf JSON (the form Connect JSON carries) for any
// message, made from its descriptor alone: lowerCamelCase names, enum names as
// strings, 64-bit integers as strings, bytes as base64, well-known types in
// their JSON forms. One member of each oneof; every other field is set (but a
// page token), so a reader sees the whole shape.
import { createHash } from "node:crypto";
import { ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";

const SAMPLE_BYTES = Buffer.from("example");
const SAMPLE_TIME = "2026-01-01T12:00:00Z";

/** Example strings by field name (plugin option `example=owner_id:demo`): they win over the conventions below. */
export type GivenStrings = Readonly<Record<string, string>>;

/** The example request (or any message) as a JSON object. */
export function exampleMessage(message: DescMessage, given: GivenStrings = {}, path: readonly string[] = []): JsonObject {
  const wkt = wellKnownExample(message);
  if (wkt !== undefined) return wkt as JsonObject;
  const json: JsonObject = {};
  for (const field of message.fields) {
    // Only the first member of a oneof: a message carries one at a time.
    if (field.oneof !== undefined && field.oneof.fields[0] !== field) continue;
    if (leftOut(field)) continue;
    const value = fieldExample(field, given, [...path, message.typeName]);
    if (value !== undefined) json[field.jsonName] = value;
  }
  return json;
}

/** A page token comes from a previous response: a first request has none, and a made-up one is refused. */
export const leftOut = (field: DescField) => field.name === "page_token" || field.name.endsWith("_page_token");

function fieldExample(field: DescField, given: GivenStrings, path: readonly string[]): JsonValue | undefined {
  const value = valueExample(field, given, path);
  if (value === undefined) return undefined;
  if (field.fieldKind === "list") return [value];
  // Map keys are always strings in JSON, whatever their scalar type.
  if (field.fieldKind === "map") return { [String(scalarExample(field.mapKey, "key", given))]: value };
  return value;
}

/** One value of the field: the field itself, or one element of a list or map. */
function valueExample(field: DescField, given: GivenStrings, path: readonly string[]): JsonValue | undefined {
  if (field.message) return nestedExample(field.message, given, path);
  if (field.enum) return enumExample(field.enum);
  return scalarExample(field.scalar!, field.name, given);
}

/** A nested message, left out when it would recurse into a message already on the path. */
function nestedExample(message: DescMessage, given: GivenStrings, path: readonly string[]): JsonValue | undefined {
  if (path.includes(message.typeName)) return undefined;
  return exampleMessage(message, given, path);
}

/** The first value that is not the zero value (which reads as "not set"), by name. */
function enumExample(desc: { typeName: string; values: readonly { name: string; number: number }[] }): JsonValue {
  if (desc.typeName === "google.protobuf.NullValue") return null;
  const value = desc.values.find((v) => v.number !== 0) ?? desc.values[0];
  return value?.name ?? 0;
}

/**
 * A scalar by type; strings by a few naming conventions first, so an example
 * reads like a real request (an id is a UUID, an md5 is the base64 of an MD5).
 */
function scalarExample(type: ScalarType, fieldName: string, given: GivenStrings): JsonValue {
  switch (type) {
    case ScalarType.STRING:
      return given[fieldName] ?? stringExample(fieldName);
    case ScalarType.BYTES:
      return SAMPLE_BYTES.toString("base64");
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 0.5;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return "1024";
    default:
      return 100;
  }
}

function stringExample(fieldName: string): string {
  if (/(^|_)ids?$/.test(fieldName)) return exampleUuid(fieldName);
  if (fieldName === "filename") return "photo.png";
  if (fieldName === "content_type") return "image/png";
  if (fieldName === "md5") return createHash("md5").update(SAMPLE_BYTES).digest("base64");
  if (fieldName === "sha256") return createHash("sha256").update(SAMPLE_BYTES).digest("hex");
  return "example";
}

/** A UUIDv7-shaped id derived from the field name, so two id fields read apart. */
function exampleUuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `019b7a3c-${hex.slice(0, 4)}-7${hex.slice(4, 7)}-${variant}${hex.slice(7, 10)}-${hex.slice(10, 22)}`;
}

/** The JSON forms of the well-known types (https://protobuf.dev/programming-guides/json/). */
function wellKnownExample(message: DescMessage): JsonValue | undefined {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return SAMPLE_TIME;
    case "google.protobuf.Duration":
      return "1.5s";
    case "google.protobuf.FieldMask":
      return "example";
    case "google.protobuf.Empty":
      return {};
    case "google.protobuf.Struct":
      return { key: "example" };
    case "google.protobuf.Value":
      return "example";
    case "google.protobuf.ListValue":
      return ["example"];
    case "google.protobuf.Any":
      return { "@type": "type.googleapis.com/google.protobuf.Empty", value: {} };
  }
  // Wrappers (google.protobuf.Int64Value, ...) are their value's JSON.
  if (message.typeName.startsWith("google.protobuf.") && message.typeName.endsWith("Value")) {
    const value = message.fields[0];
    if (value?.fieldKind === "scalar") return scalarExample(value.scalar, "value", {});
  }
  return undefined;
}
