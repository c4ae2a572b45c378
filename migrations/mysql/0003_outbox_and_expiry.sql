CREATE TABLE `tasks` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`kind` varchar(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`file_id` char(36) CHARACTER SET ascii COLLATE ascii_bin,
	`owner_id` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`payload` mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`order_key` varchar(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`status` enum('queued','running','failed') NOT NULL,
	`due_at` datetime(3) NOT NULL,
	`attempts` int NOT NULL DEFAULT 0,
	`locked_by` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`locked_until` datetime(3),
	`last_error` varchar(1000) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `tasks_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `files` ADD `expire_due_at` datetime(3);--> statement-breakpoint
CREATE INDEX `tasks_status_due_at_idx` ON `tasks` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `tasks_order_key_id_idx` ON `tasks` (`order_key`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_file_id_idx` ON `tasks` (`file_id`);--> statement-breakpoint
CREATE INDEX `files_status_expire_due_at_idx` ON `files` (`status`,`expire_due_at`);