// The services every listener serves.
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { FileService } from "../../gen/file/v1/file_service_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";

export interface Services {
  files: ServiceImpl<typeof FileService>;
  health: Partial<ServiceImpl<typeof Health>>;
}

export function routesFor(services: Services) {
  return (router: ConnectRouter) => {
    router.service(FileService, services.files);
    router.service(Health, services.health);
  };
}
