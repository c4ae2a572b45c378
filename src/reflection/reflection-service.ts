// gRPC server reflection (grpc.reflection.v1 and v1alpha) for connect-es, from
// the descriptors protobuf-es embeds in the generated code. Lets grpcurl,
// `buf curl` (without --schema) and similar tools discover and call the
// services. The two versions share their messages field for field.
import type { DescFile } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createDescriptorIndex, type DescriptorIndex } from "./descriptor-index.js";

/** A ServerReflectionRequest of either version. */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

/** ServerReflectionResponse.message_response of either version. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Registers grpc.reflection.v1.ServerReflection and
 * grpc.reflection.v1alpha.ServerReflection on `router`, describing the
 * services declared in `files` (and the reflection services themselves).
 * Pass the generated `file_*` exports of the served services.
 */
export function registerReflection(router: ConnectRouter, files: readonly DescFile[]): void {
  const index = createDescriptorIndex([
    ...files,
    v1.file_grpc_reflection_v1_reflection,
    v1alpha.file_grpc_reflection_v1alpha_reflection,
  ]);
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(index, req) };
      }
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(index, req) };
      }
    },
  });
}

function answer(index: DescriptorIndex, req: ReflectionRequest): ReflectionAnswer {
  const request = req.messageRequest;
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(index.fileByName(request.value), `file not found: ${request.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(request.value), `symbol not found: ${request.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `extension not found: ${containingType} ${extensionNumber}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(request.value);
      if (numbers === undefined) return error(Code.NotFound, `type not found: ${request.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: request.value.replace(/^\./, ""), extensionNumber: numbers },
      };
    }
    default:
      return error(Code.InvalidArgument, "empty message_request");
  }
}

function files(found: Uint8Array[] | undefined, notFound: string): ReflectionAnswer {
  if (found === undefined) return error(Code.NotFound, notFound);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: found } };
}

function error(code: Code, message: string): ReflectionAnswer {
  // connect-es Code values are the gRPC status codes (NotFound = 5).
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
