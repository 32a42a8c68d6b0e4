#!/usr/bin/env bash
# The main job on sample photos, on the embedded default (SQLite catalog + local vectors in ./facefill.db) with the
# default model pack: installs and builds what is missing, scans the photos, backfills every face, shows the
# catalog's counts and checks it. Photos: the folder given, else ../shared/images when present, else the MIT sample
# photos fetched by setup. Safe to run again: a second run finds nothing new to do.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
photos="${1:-}"
if [ -z "$photos" ]; then
  if [ -d "$root/../shared/images" ]; then photos="$root/../shared/images"; else photos="$root/.deps/samples"; fi
fi
facefill="$root/build/tools/facefill/facefill"
export FACEFILL_DB="${FACEFILL_DB:-sqlite:$root/facefill.db}"
"$facefill" scan "$photos"
"$facefill" backfill
"$facefill" stats
"$facefill" check
