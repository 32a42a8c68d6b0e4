#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every CTest test (unit, model, service), then the
# hardening runs: the unit and pipeline tests under AddressSanitizer + UndefinedBehaviorSanitizer and under
# ThreadSanitizer, and a short libFuzzer run per target. `--quick` stops after the main tests.
# Tests that need ../shared fail (not skip) when CI=true and it is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
"$root/scripts/build.sh"
(cd "$root/build" && ctest --output-on-failure --no-tests=error -j "$(nproc)" "$@")
total=$(cd "$root/build" && ctest -N "$@" | awk '/Total Tests:/ {print $3}')
if [ "$quick" -eq 0 ]; then
  "$root/scripts/sanitize.sh"
  "$root/scripts/fuzz.sh"
fi
# Reached only when every stage passed (set -e).
echo "suite: $total passed, 0 failed"
