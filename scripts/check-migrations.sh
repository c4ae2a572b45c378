#!/usr/bin/env bash
# Fails when a drizzle schema has changes that no migration in its `out` folder
# covers. Run from the repo root (CI and locally):
#   scripts/check-migrations.sh                  # every dialect (the configs below)
#   scripts/check-migrations.sh CONFIG [CONFIG...]  # e.g. drizzle.sqlite.config.ts
#
# `drizzle-kit check` only validates the migration folder's own snapshots; it
# passes a drifted schema. So this runs `drizzle-kit generate` against a
# throwaway copy of the folder and requires it to find nothing to generate.
# drizzle-kit exits 0 even when it crashes, so success is recognised by its
# "No schema changes" message plus an unchanged copy, never by its exit code.
set -euo pipefail

all_configs=(drizzle.config.ts drizzle.sqlite.config.ts) # MySQL, SQLite

# Several configs: check each in its own run (so every drift is reported), fail if any failed.
if [[ $# -ne 1 ]]; then
  (($# > 0)) || set -- "${all_configs[@]}"
  failed=()
  for config in "$@"; do
    bash "${BASH_SOURCE[0]}" "$config" || failed+=("$config")
  done
  ((${#failed[@]} == 0)) || { echo "check-migrations: failed for ${failed[*]}" >&2; exit 1; }
  exit 0
fi

config=$1
repo=$(pwd)
[[ -f package.json && -f $config ]] || { echo "check-migrations: run from the repo root; no config $config" >&2; exit 2; }
# The migrations folder is the config's own `out`, so the two cannot disagree.
out=$(node --import tsx --input-type=module \
  -e 'const { default: c } = await import(process.argv[1]); console.log(c.out)' "$repo/$config")
[[ -d $out ]] || { echo "check-migrations: $config: no migrations folder $out" >&2; exit 2; }
echo "check-migrations: $config ($out)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R "$out" "$tmp/out"
# drizzle-kit prefixes "./" to `out`, so it must be relative to the repo root.
out_rel=$(realpath --relative-to="$repo" "$tmp/out")
cat >"$tmp/drizzle.config.ts" <<CONFIG
import base from "$repo/$config";
export default { ...base, out: "$out_rel" };
CONFIG

npx drizzle-kit check --config "$config"

# </dev/null: a rename question (drop + add) must not wait for an answer.
if ! log=$(timeout 300 npx drizzle-kit generate --config "$tmp/drizzle.config.ts" </dev/null 2>&1); then
  echo "$log" >&2
  echo "check-migrations: $config: drizzle-kit generate failed" >&2
  exit 1
fi
if ! diff -r "$out" "$tmp/out" >/dev/null; then
  echo "$log" >&2
  echo "check-migrations: $config: the schema has changes without a migration; run: npx drizzle-kit generate --config $config --name <what-changed>" >&2
  exit 1
fi
if ! grep -q "No schema changes" <<<"$log"; then
  echo "$log" >&2
  echo "check-migrations: $config: drizzle-kit generate did not finish (an error, or a change that needs an interactive rename answer); see above" >&2
  exit 1
fi
echo "check-migrations: $config: migrations are up to date with the schema"
