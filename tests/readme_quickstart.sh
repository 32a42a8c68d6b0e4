#!/usr/bin/env bash
# Runs the README's quick-start commands as written: every line starting with `bin/facefill` in the fenced blocks
# between the markers `<!-- quickstart-test:begin -->` and `<!-- quickstart-test:end -->`, from the project root,
# against a temporary catalog holding what the main job stores for the sample photos. The `scripts/*.sh` lines are
# left to CI, which runs them anyway. A `bin/facefill serve` line is started on a free port, asked for its People
# page, and stopped.
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
  if [[ "$command" == "bin/facefill serve"* ]]; then
    # A server runs until stopped: here on a free port, its People page fetched once, then stopped by SIGTERM.
    PATH="$work/bin:$PATH" bash -c "exec ${command/#bin\/facefill/facefill} --port 0" > "$work/serve.out" 2>&1 \
      < /dev/null &
    pid=$!
    for _ in $(seq 300); do grep -q "http://" "$work/serve.out" && break; sleep 0.1; done
    port=$(grep -o 'http://127.0.0.1:[0-9]*/' "$work/serve.out" | head -n 1 | sed 's|.*:\([0-9]*\)/|\1|')
    exec 3<> "/dev/tcp/127.0.0.1/$port"
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    page=$(cat <&3)
    exec 3<&-
    kill -TERM "$pid"
    wait "$pid"
    grep -q "<h1>People" <<< "$page" || { echo "serve: no People page"; cat "$work/serve.out"; exit 1; }
  else
    PATH="$work/bin:$PATH" bash -c "set -e; ${command/#bin\/facefill/facefill}" < /dev/null
  fi
  n=$((n + 1))
done <<< "$commands"
echo "README quick start: $n command(s) ran as written"
