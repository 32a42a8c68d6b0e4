#!/usr/bin/env bash
# The main job on sample photos, on the embedded default with the default model pack: installs and builds what is
# missing, then finds and embeds every face in the sample photos (../shared/images when present, else the MIT
# sample photos fetched by setup).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
photos="${1:-}"
if [ -z "$photos" ]; then
  if [ -d "$root/../shared/images" ]; then photos="$root/../shared/images"; else photos="$root/.deps/samples"; fi
fi
mapfile -t files < <(find "$photos" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' -o -iname '*.heic' \) | sort)
echo "facefill: detecting faces in ${#files[@]} photos under $photos"
"$root/build/tools/facefill/facefill" detect "${files[@]}"
