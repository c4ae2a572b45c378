CREATE TABLE `files` (
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
	CONSTRAINT "files_status_check" CHECK("status" IN ('pending', 'uploaded', 'deleted')),
	CONSTRAINT "files_size_bytes_check" CHECK("size_bytes" >= 0)
);
--> statement-breakpoint
CREATE INDEX `files_owner_id_id_idx` ON `files` (`owner_id`,`id`);