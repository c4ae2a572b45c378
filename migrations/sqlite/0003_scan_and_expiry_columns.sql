ALTER TABLE `files` ADD `scan_status` text DEFAULT 'not_scanned' NOT NULL;--> statement-breakpoint
ALTER TABLE `files` ADD `scan_signature` text;--> statement-breakpoint
ALTER TABLE `files` ADD `scan_error` text;--> statement-breakpoint
ALTER TABLE `files` ADD `scanned_at` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `upload_expires_at` integer;