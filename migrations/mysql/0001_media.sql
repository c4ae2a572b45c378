CREATE TABLE `file_variants` (
	`file_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`name` varchar(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`width` int NOT NULL,
	`height` int NOT NULL,
	`content_type` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`size_bytes` bigint unsigned NOT NULL,
	`object_key` varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	CONSTRAINT `file_variants_file_id_name_pk` PRIMARY KEY(`file_id`,`name`)
);
--> statement-breakpoint
ALTER TABLE `files` ADD `purpose` enum('unspecified','profile_picture','cover_photo','post_attachment','message_attachment','story','avatar') DEFAULT 'unspecified' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `sha256` char(64) CHARACTER SET ascii COLLATE ascii_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `dedup_sha256` char(64) CHARACTER SET ascii COLLATE ascii_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `width` int;--> statement-breakpoint
ALTER TABLE `files` ADD `height` int;--> statement-breakpoint
ALTER TABLE `files` ADD `blurhash` varchar(64) CHARACTER SET ascii COLLATE ascii_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_status` enum('pending','processing','completed','failed','cancelled') DEFAULT 'pending' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_error` varchar(1000) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_attempts` int DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_due_at` datetime(3);--> statement-breakpoint
ALTER TABLE `files` ADD `processing_locked_by` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_locked_until` datetime(3);--> statement-breakpoint
ALTER TABLE `files` ADD `processing_webp_quality` int;--> statement-breakpoint
ALTER TABLE `files` ADD CONSTRAINT `files_owner_id_dedup_sha256_key` UNIQUE(`owner_id`,`dedup_sha256`);--> statement-breakpoint
CREATE INDEX `files_processing_status_due_at_idx` ON `files` (`processing_status`,`processing_due_at`);