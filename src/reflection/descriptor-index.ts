// What server reflection needs to know, computed once from the descriptors
// protobuf-es embeds in the generated code: every file reachable from the
// served ones (serialized FileDescriptorProto), which file declares each
// fully-qualified symbol, and which extensions extend which message.
import { toBinary, type DescFile } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";

export interface DescriptorIndex {
  /** Fully-qualified names of the services declared in the indexed files, sorted. */
  readonly serviceNames: readonly string[];
  /** The named file ("file/v1/file_service.proto") and its transitive dependencies, serialized; the file first. */
  fileByName(name: string): Uint8Array[] | undefined;
  /** The file declaring a message, enum, service, method or extension (no leading dot) and its dependencies. */
  fileContainingSymbol(symbol: string): Uint8Array[] | undefined;
  /** The file declaring extension `number` of message `extendee` and its dependencies. */
  fileContainingExtension(extendee: string, number: number): Uint8Array[] | undefined;
  /** Extension numbers known for a message; undefined if the message is unknown. */
  extensionNumbersOf(typeName: string): number[] | undefined;
}

/**
 * Indexes `files` and everything they import. Services are listed only for
 * `files` themselves (a dependency may declare services that are not served).
 */
export function createDescriptorIndex(files: readonly DescFile[]): DescriptorIndex {
  const byName = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);

  const serialized = new Map<string, Uint8Array>();
  const symbols = new Map<string, string>(); // symbol → file name
  const extensions = new Map<string, string>(); // "extendee#number" → file name
  const messages = new Set<string>();
  const extensionNumbers = new Map<string, number[]>(); // extendee → numbers
  for (const [name, file] of byName) {
    serialized.set(name, toBinary(FileDescriptorProtoSchema, file.proto));
    const proto = file.proto;
    const scope = proto.package === "" ? "" : `${proto.package}.`;
    const addSymbol = (symbol: string) => {
      if (!symbols.has(symbol)) symbols.set(symbol, name);
    };
    const addExtension = (ext: FieldDescriptorProto, prefix: string) => {
      addSymbol(prefix + ext.name);
      const extendee = ext.extendee.replace(/^\./, "");
      extensions.set(`${extendee}#${ext.number}`, name);
      const numbers = extensionNumbers.get(extendee) ?? [];
      if (!numbers.includes(ext.number)) numbers.push(ext.number);
      extensionNumbers.set(extendee, numbers);
    };
    const addEnum = (e: EnumDescriptorProto, prefix: string) => addSymbol(prefix + e.name);
    // Walks the FileDescriptorProto rather than DescMessage.nestedMessages,
    // which leaves out map-entry types (PresignedUpload.HeadersEntry).
    const addMessage = (m: DescriptorProto, prefix: string) => {
      const fullName = prefix + m.name;
      addSymbol(fullName);
      messages.add(fullName);
      const inner = `${fullName}.`;
      m.nestedType.forEach((n) => addMessage(n, inner));
      m.enumType.forEach((e) => addEnum(e, inner));
      m.extension.forEach((x) => addExtension(x, inner));
    };
    proto.messageType.forEach((m) => addMessage(m, scope));
    proto.enumType.forEach((e) => addEnum(e, scope));
    proto.extension.forEach((x) => addExtension(x, scope));
    for (const s of proto.service) {
      const service = scope + s.name;
      addSymbol(service);
      s.method.forEach((m) => addSymbol(`${service}.${m.name}`));
    }
  }

  const serviceNames = [
    ...new Set(files.flatMap((f) => f.proto.service.map((s) => (f.proto.package === "" ? "" : `${f.proto.package}.`) + s.name))),
  ].sort();

  /** The file, then each transitive dependency once (depth-first, in import order). */
  const withDependencies = (name: string): Uint8Array[] | undefined => {
    const root = byName.get(name);
    if (root === undefined) return undefined;
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const walk = (file: DescFile): void => {
      if (seen.has(file.proto.name)) return;
      seen.add(file.proto.name);
      const bytes = serialized.get(file.proto.name);
      if (bytes !== undefined) out.push(bytes);
      file.dependencies.forEach(walk);
    };
    walk(root);
    return out;
  };

  return {
    serviceNames,
    fileByName: withDependencies,
    fileContainingSymbol(symbol) {
      const file = symbols.get(symbol.replace(/^\./, ""));
      return file === undefined ? undefined : withDependencies(file);
    },
    fileContainingExtension(extendee, number) {
      const file = extensions.get(`${extendee.replace(/^\./, "")}#${number}`);
      return file === undefined ? undefined : withDependencies(file);
    },
    extensionNumbersOf(typeName) {
      const type = typeName.replace(/^\./, "");
      if (!messages.has(type)) return undefined;
      return [...(extensionNumbers.get(type) ?? [])];
    },
  };
}
