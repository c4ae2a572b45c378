CREATE TABLE `file_variants` (
	`file_id` text NOT NULL,
	`name` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`content_type` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`object_key` text NOT NULL,
	PRIMARY KEY(`file_id`, `name`),
	CONSTRAINT "file_variants_size_bytes_check" CHECK("size_bytes" >= 0)
);
--> statement-breakpoint
ALTER TABLE `files` ADD `purpose` text DEFAULT 'unspecified' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `sha256` text;--> statement-breakpoint
ALTER TABLE `files` ADD `dedup_sha256` text;--> statement-breakpoint
ALTER TABLE `files` ADD `width` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `height` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `blurhash` text;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_status` text DEFAULT 'pending' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_error` text;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_due_at` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_locked_by` text;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_locked_until` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `processing_webp_quality` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `files_owner_id_dedup_sha256_key` ON `files` (`owner_id`,`dedup_sha256`);--> statement-breakpoint
CREATE INDEX `files_processing_status_due_at_idx` ON `files` (`processing_status`,`processing_due_at`);