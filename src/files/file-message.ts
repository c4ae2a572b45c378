// Persistence records → the contract's File message.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileEventSchema, FileSchema, FileStatus, FileStatusSchema, ProcessingStatus, ScanStatus, type File, type FileEvent, type FileEventType } from "../../gen/file/v1/file_service_pb.js";
import type { FileRecord, FileStatus as RecordStatus, ProcessingStatus as RecordProcessingStatus, ScanStatus as RecordScanStatus } from "../domain/file.js";
import { purposeToProto } from "./purposes.js";

const STATUS: Record<RecordStatus, FileStatus> = {
  pending: FileStatus.PENDING,
  uploaded: FileStatus.UPLOADED,
  deleted: FileStatus.DELETED,
  expired: FileStatus.EXPIRED,
  quarantined: FileStatus.QUARANTINED,
  missing: FileStatus.MISSING,
};

const PROCESSING: Record<RecordProcessingStatus, ProcessingStatus> = {
  pending: ProcessingStatus.PENDING,
  processing: ProcessingStatus.PROCESSING,
  completed: ProcessingStatus.COMPLETED,
  failed: ProcessingStatus.FAILED,
  cancelled: ProcessingStatus.CANCELLED,
};

const SCAN: Record<RecordScanStatus, ScanStatus> = {
  not_scanned: ScanStatus.NOT_SCANNED,
  pending: ScanStatus.PENDING,
  clean: ScanStatus.CLEAN,
  infected: ScanStatus.INFECTED,
  error: ScanStatus.ERROR,
};

export function statusFromProto(status: FileStatus): RecordStatus | undefined {
  return (Object.keys(STATUS) as RecordStatus[]).find((s) => STATUS[s] === status);
}

/** The statuses a filter may name, as Connect JSON spells them. */
export function filterableStatusNames(): string {
  return Object.values(STATUS)
    .map((s) => FileStatusSchema.value[s]!.name)
    .join(", ");
}

export function toFileMessage(record: FileRecord): File {
  return create(FileSchema, {
    id: record.id,
    ownerId: record.ownerId,
    filename: record.filename,
    contentType: record.contentType,
    sizeBytes: BigInt(record.sizeBytes),
    md5: record.md5,
    status: STATUS[record.status],
    createdAt: timestampFromDate(record.createdAt),
    uploadedAt: record.uploadedAt ? timestampFromDate(record.uploadedAt) : undefined,
    deletedAt: record.deletedAt ? timestampFromDate(record.deletedAt) : undefined,
    purpose: purposeToProto(record.purpose),
    sha256: record.sha256 ?? "",
    width: record.width ?? 0,
    height: record.height ?? 0,
    blurhash: record.blurhash ?? "",
    variants: record.variants.map((v) => ({
      name: v.name,
      width: v.width,
      height: v.height,
      contentType: v.contentType,
      sizeBytes: BigInt(v.sizeBytes),
    })),
    processingStatus: PROCESSING[record.processingStatus],
    processingError: record.processingError ?? "",
    scanStatus: SCAN[record.scanStatus],
    scanSignature: record.scanSignature ?? "",
    scanError: record.scanError ?? "",
    scannedAt: record.scannedAt ? timestampFromDate(record.scannedAt) : undefined,
    uploadExpiresAt: record.uploadExpiresAt ? timestampFromDate(record.uploadExpiresAt) : undefined,
  });
}

/** The event of `type` about `record` as it is after the change. */
export function toFileEvent(type: FileEventType, record: FileRecord, eventId: string, occurredAt: Date): FileEvent {
  return create(FileEventSchema, {
    eventId,
    type,
    occurredAt: timestampFromDate(occurredAt),
    ownerId: record.ownerId,
    fileId: record.id,
    file: toFileMessage(record),
  });
}
