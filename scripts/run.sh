#!/usr/bin/env bash
# The main job on sample photos, on the embedded default (SQLite catalog + local vectors in ./facefill.db) with the
# default model pack: installs and builds what is missing, links the binary as bin/facefill, scans the photos,
# backfills every face, shows the catalog's counts and checks it. Photos: the folder given, else ../shared/images
# when present, else the MIT sample photos fetched by setup. Safe to run again: a second run finds nothing new to do.
# Every run adds to the same catalog ($FACEFILL_DB, default ./facefill.db); a note says so when it already holds
# another folder (FACEFILL_DB=sqlite:other.db scripts/run.sh DIR keeps a folder apart).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
mkdir -p "$root/bin"
ln -sfn "$root/build/tools/facefill/facefill" "$root/bin/facefill"
photos="${1:-}"
if [ -z "$photos" ]; then
  if [ -d "$root/../shared/images" ]; then photos="$root/../shared/images"; else photos="$root/.deps/samples"; fi
fi
facefill="$root/bin/facefill"
export FACEFILL_DB="${FACEFILL_DB:-sqlite:$root/facefill.db}"
db_file="${FACEFILL_DB#sqlite:}"
db_file="${db_file#//}"
if [ "$db_file" != "$FACEFILL_DB" ] && [ -f "$db_file" ]; then
  roots=$("$facefill" stats --json | grep -o '"library_roots":\[[^]]*\]' || true)
  this=$(realpath "$photos")
  others=$(printf '%s' "${roots#*:}" | tr -d '[]' | tr ',' '\n' | tr -d '"' | grep -v -x -F "$this" || true)
  if [ -n "$others" ]; then
    echo "note: $db_file already holds photos from $(echo "$others" | paste -sd, -); $this is added to the same" \
      "catalog and search covers both (for a catalog of this folder alone: FACEFILL_DB=sqlite:other.db" \
      "scripts/run.sh $photos)"
  fi
fi
"$facefill" scan "$photos"
"$facefill" backfill
"$facefill" stats
"$facefill" check
echo "facefill is linked as $root/bin/facefill; to type just \`facefill\`: export PATH=\"$root/bin:\$PATH\""
