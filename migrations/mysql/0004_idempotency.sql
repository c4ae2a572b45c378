ALTER TABLE `files` ADD `idempotency_key` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `files` ADD `idempotency_seq` int;--> statement-breakpoint
ALTER TABLE `files` ADD `idempotency_fingerprint` char(64) CHARACTER SET ascii COLLATE ascii_bin;--> statement-breakpoint
ALTER TABLE `files` ADD CONSTRAINT `files_owner_id_idempotency_key` UNIQUE(`owner_id`,`idempotency_key`,`idempotency_seq`);