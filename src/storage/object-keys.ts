// Where a file's bytes live in the store. Keys are never derived from the
// user's filename, and one prefix holds everything of a file.

/** The object key of a file's bytes. */
export function objectKeyFor(fileId: string): string {
  return `files/${fileId}/original`;
}

/** Variants live beside the original. */
export function variantKeyFor(fileId: string, variant: string): string {
  return `files/${fileId}/${variant}`;
}

/**
 * Where a quarantined object goes: out of `files/`, the served space, to
 * `quarantine/<file id>/<name>` (in the same bucket, or QUARANTINE_BUCKET).
 */
export function quarantineKeyFor(key: string): string {
  return key.replace(/^files\//, "quarantine/");
}
