CREATE TABLE `tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`file_id` text,
	`owner_id` text,
	`payload` text,
	`order_key` text,
	`status` text NOT NULL,
	`due_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`locked_by` text,
	`locked_until` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	CONSTRAINT "tasks_status_check" CHECK("status" IN ('queued', 'running', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `tasks_status_due_at_idx` ON `tasks` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `tasks_order_key_id_idx` ON `tasks` (`order_key`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_file_id_idx` ON `tasks` (`file_id`);--> statement-breakpoint
ALTER TABLE `files` ADD `expire_due_at` integer;--> statement-breakpoint
CREATE INDEX `files_status_expire_due_at_idx` ON `files` (`status`,`expire_due_at`);