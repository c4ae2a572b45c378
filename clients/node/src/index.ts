// @file-service/client: a typed Node client for file-service.
export { createFileClient, type FileClient, type DownloadOptions } from "./client.js";
export { findService, DiscoveryError, type FoundService, type ServiceSettings } from "./discover.js";
export { openTransport, type ConnectionOptions, type MtlsOptions, type TokenOptions } from "./transport.js";
export { uploadFiles, type UploadFilesOptions, type UploadFilesResult, type UploadFailure, type UploadProgress } from "./upload-files.js";
export { uploadStream, type UploadStreamOptions, type StreamSource } from "./upload-stream.js";
export { putPresigned, PutError, type PutOptions } from "./put-object.js";
export { prepareFile, contentTypeFor, isImageFilename, md5Base64, type UploadInput, type PreparedFile, type BodySource } from "./file-input.js";
export { watchFiles, waitForProcessing, processingSettled } from "./watch.js";
export { mapBounded } from "./bounded.js";
export * from "./contract.js";
