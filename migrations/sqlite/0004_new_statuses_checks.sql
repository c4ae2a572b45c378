PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_files` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`md5` text NOT NULL,
	`status` text NOT NULL,
	`object_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`uploaded_at` integer,
	`deleted_at` integer,
	`purpose` text DEFAULT 'unspecified' NOT NULL,
	`sha256` text,
	`dedup_sha256` text,
	`width` integer,
	`height` integer,
	`blurhash` text,
	`processing_status` text DEFAULT 'pending' NOT NULL,
	`processing_error` text,
	`processing_attempts` integer DEFAULT 0 NOT NULL,
	`processing_due_at` integer,
	`processing_locked_by` text,
	`processing_locked_until` integer,
	`processing_webp_quality` integer,
	`scan_status` text DEFAULT 'not_scanned' NOT NULL,
	`scan_signature` text,
	`scan_error` text,
	`scanned_at` integer,
	`upload_expires_at` integer,
	CONSTRAINT "files_status_check" CHECK("status" IN ('pending', 'uploaded', 'deleted', 'expired', 'quarantined', 'missing')),
	CONSTRAINT "files_purpose_check" CHECK("purpose" IN ('unspecified', 'profile_picture', 'cover_photo', 'post_attachment', 'message_attachment', 'story', 'avatar')),
	CONSTRAINT "files_processing_status_check" CHECK("processing_status" IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
	CONSTRAINT "files_scan_status_check" CHECK("scan_status" IN ('not_scanned', 'pending', 'clean', 'infected', 'error')),
	CONSTRAINT "files_size_bytes_check" CHECK("size_bytes" >= 0)
);
--> statement-breakpoint
INSERT INTO `__new_files`("id", "owner_id", "filename", "content_type", "size_bytes", "md5", "status", "object_key", "created_at", "uploaded_at", "deleted_at", "purpose", "sha256", "dedup_sha256", "width", "height", "blurhash", "processing_status", "processing_error", "processing_attempts", "processing_due_at", "processing_locked_by", "processing_locked_until", "processing_webp_quality", "scan_status", "scan_signature", "scan_error", "scanned_at", "upload_expires_at") SELECT "id", "owner_id", "filename", "content_type", "size_bytes", "md5", "status", "object_key", "created_at", "uploaded_at", "deleted_at", "purpose", "sha256", "dedup_sha256", "width", "height", "blurhash", "processing_status", "processing_error", "processing_attempts", "processing_due_at", "processing_locked_by", "processing_locked_until", "processing_webp_quality", "scan_status", "scan_signature", "scan_error", "scanned_at", "upload_expires_at" FROM `files`;--> statement-breakpoint
DROP TABLE `files`;--> statement-breakpoint
ALTER TABLE `__new_files` RENAME TO `files`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `files_owner_id_id_idx` ON `files` (`owner_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `files_owner_id_dedup_sha256_key` ON `files` (`owner_id`,`dedup_sha256`);--> statement-breakpoint
CREATE INDEX `files_processing_status_due_at_idx` ON `files` (`processing_status`,`processing_due_at`);