ALTER TABLE `files` ADD `idempotency_key` text;--> statement-breakpoint
ALTER TABLE `files` ADD `idempotency_seq` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `idempotency_fingerprint` text;--> statement-breakpoint
CREATE UNIQUE INDEX `files_owner_id_idempotency_key` ON `files` (`owner_id`,`idempotency_key`,`idempotency_seq`);