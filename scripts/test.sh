#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every CTest test (unit, model, service), then the
# hardening runs: the unit and pipeline tests under AddressSanitizer + UndefinedBehaviorSanitizer and under
# ThreadSanitizer, and a short libFuzzer run per target. `--quick` stops after the main tests.
# Tests that need ../shared fail (not skip) when CI=true and it is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
# The tests also install ONNX Runtime's GPU build: the --device tests check every reason CUDA cannot be used, and the
# whole suite then runs on it (the CPU path must not change when it is installed).
"$root/scripts/setup.sh" --gpu
"$root/scripts/build.sh"
# A test whose data is missing is skipped (outside CI), and counted and reported as skipped, with its reason.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
(cd "$root/build" && ctest --output-on-failure --no-tests=error -j "$(nproc)" "$@") | tee "$log" || rc=$?
total=$(awk '/tests passed, .* tests failed out of/ {print $NF}' "$log" | tail -n 1)
failed=$(awk '/tests passed, .* tests failed out of/ {print $(NF-5)}' "$log" | tail -n 1)
skipped=$(grep -c ' (Skipped)$' "$log" || true)
total=${total:-0}
failed=${failed:-0}
passed=$((total - failed - skipped))
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests, with the reason they gave:"
  grep -h -A1 ': Skipped$' "$root/build/Testing/Temporary/LastTest.log" | grep -v -e ': Skipped$' -e '^--$' |
    sort | uniq -c | sed 's/^/  /' || true
fi
echo "suite: $passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ]; then exit "$rc"; fi
if [ "$quick" -eq 0 ]; then
  "$root/scripts/sanitize.sh"
  "$root/scripts/fuzz.sh"
  echo "suite: sanitizer and fuzz stages passed"
fi
