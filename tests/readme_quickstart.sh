#!/usr/bin/env bash
# Runs the README's quick-start commands as written: every line starting with `bin/facefill` in the fenced blocks
# between the markers `<!-- quickstart-test:begin -->` and `<!-- quickstart-test:end -->`, from the project root,
# against a temporary catalog holding what the main job stores for the sample photos. The `scripts/*.sh` lines are
# left to CI, which runs them anyway.
# Usage: readme_quickstart.sh PROJECT_ROOT FACEFILL_BINARY. Exit 77 (skipped) without the sample photos, unless CI.
set -euo pipefail
root=$1
binary=$2
if [ ! -d "$root/.deps/samples" ]; then
  echo "missing the sample photos (.deps/samples, from scripts/setup.sh)"
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  exit 77
fi
commands=$(awk '/<!-- quickstart-test:begin -->/ {on = 1} /<!-- quickstart-test:end -->/ {on = 0}
                on && /^[[:space:]]*```/ {fenced = !fenced; next}
                on && fenced && /^[[:space:]]*bin\/facefill / {sub(/^[[:space:]]+/, ""); print}' "$root/README.md")
if [ -z "$commands" ]; then
  echo "no quick-start commands found between the markers in README.md"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$binary" "$work/bin/facefill"
export FACEFILL_DB="sqlite:$work/facefill.db"
cd "$root"
# What the main job (scripts/run.sh) leaves behind: the sample photos scanned and backfilled.
"$binary" scan .deps/samples
"$binary" backfill -q
n=0
while IFS= read -r line; do
  command="${line%%#*}"  # drop the trailing comment
  echo "+ $command"
  PATH="$work/bin:$PATH" bash -c "set -e; ${command/#bin\/facefill/facefill}" < /dev/null
  n=$((n + 1))
done <<< "$commands"
echo "README quick start: $n command(s) ran as written"
