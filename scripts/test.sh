#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, and runs every CTest test (unit, model, service).
# Tests that need ../shared fail (not skip) when CI=true and it is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure --no-tests=error -j "$(nproc)" "$@"
