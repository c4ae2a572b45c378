CREATE TABLE `files` (
	`id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`owner_id` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`filename` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`content_type` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`size_bytes` bigint unsigned NOT NULL,
	`md5` char(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`status` enum('pending','uploaded','deleted') NOT NULL,
	`object_key` varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`created_at` datetime(3) NOT NULL,
	`uploaded_at` datetime(3),
	`deleted_at` datetime(3),
	CONSTRAINT `files_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `files_owner_id_id_idx` ON `files` (`owner_id`,`id`);