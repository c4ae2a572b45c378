ALTER TABLE `files` MODIFY COLUMN `status` enum('pending','uploaded','deleted','expired','quarantined','missing') NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `scan_status` enum('not_scanned','pending','clean','infected','error') DEFAULT 'not_scanned' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `scan_signature` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `scan_error` varchar(1000) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `scanned_at` datetime(3);--> statement-breakpoint
ALTER TABLE `files` ADD `upload_expires_at` datetime(3);