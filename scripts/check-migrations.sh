#!/usr/bin/env bash
# Fails when src/db/mysql/schema.ts has changes that no migration in
# migrations/mysql covers. Run from the repo root (CI and locally):
#   scripts/check-migrations.sh
#
# `drizzle-kit check` only validates the migration folder's own snapshots; it
# passes a drifted schema. So this runs `drizzle-kit generate` against a
# throwaway copy of the folder and requires it to find nothing to generate.
# drizzle-kit exits 0 even when it crashes, so success is recognised by its
# "No schema changes" message plus an unchanged copy, never by its exit code.
set -euo pipefail

repo=$(pwd)
[[ -f drizzle.config.ts && -d migrations/mysql ]] || { echo "check-migrations: run from the repo root" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R migrations/mysql "$tmp/out"
# drizzle-kit prefixes "./" to `out`, so it must be relative to the repo root.
out_rel=$(realpath --relative-to="$repo" "$tmp/out")
cat >"$tmp/drizzle.config.ts" <<CONFIG
import base from "$repo/drizzle.config.ts";
export default { ...base, out: "$out_rel" };
CONFIG

npx drizzle-kit check

# </dev/null: a rename question (drop + add) must not wait for an answer.
if ! log=$(timeout 300 npx drizzle-kit generate --config "$tmp/drizzle.config.ts" </dev/null 2>&1); then
  echo "$log" >&2
  echo "check-migrations: drizzle-kit generate failed" >&2
  exit 1
fi
if ! diff -r migrations/mysql "$tmp/out" >/dev/null; then
  echo "$log" >&2
  echo "check-migrations: schema.ts has changes without a migration; run: npm run generate:migrations -- --name <what-changed>" >&2
  exit 1
fi
if ! grep -q "No schema changes" <<<"$log"; then
  echo "$log" >&2
  echo "check-migrations: drizzle-kit generate did not finish (an error, or a change that needs an interactive rename answer); see above" >&2
  exit 1
fi
echo "check-migrations: migrations are up to date with the schema"
