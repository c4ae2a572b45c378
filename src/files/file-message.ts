// Persistence records → the contract's File message.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FileSchema, FileStatus, type File } from "../../gen/file/v1/file_service_pb.js";
import type { FileRecord, FileStatus as RecordStatus } from "../db/file-repository.js";

const STATUS: Record<RecordStatus, FileStatus> = {
  pending: FileStatus.PENDING,
  uploaded: FileStatus.UPLOADED,
  deleted: FileStatus.DELETED,
};

export function statusFromProto(status: FileStatus): RecordStatus | undefined {
  return (Object.keys(STATUS) as RecordStatus[]).find((s) => STATUS[s] === status);
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
  });
}
