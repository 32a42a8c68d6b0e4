#!/usr/bin/env bash
# Builds facefill with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit and pipeline tests, then
# with ThreadSanitizer and runs the multi-threaded tests (pipeline, concurrent lease claims, Qdrant requests in
# flight). Any sanitizer report fails the run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
supp="$root/tests/sanitizers"
jobs=$(nproc)

# Debug: quickest to compile; the heavy lifting runs in ONNX Runtime and OpenCV, which are not instrumented anyway.
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DFACEFILL_SANITIZE=address,undefined -DFACEFILL_GPU_RUNTIME=OFF \
  -DFACEFILL_BENCH=OFF >/dev/null
cmake --build "$root/build-asan" -j "$jobs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Left out: the parity suites, the benchmark smoke tests (and the device check script), the whole-library backfills on the service backends and
# the shared photos' clustering (Debug + ASan makes them many minutes long; the same code paths run here on smaller
# inputs), and the lease tests that measure time (a 2 s lease under ASan's slowdown says nothing).
(cd "$root/build-asan" && ctest --output-on-failure --no-tests=error -j "$jobs" \
  -E 'ScrfdParityTest|EmbeddingParityTest|BenchSmoke|GpuCheckOnCpu|PostgresBackendTest|WorkerProcessesTest|PeoplePhotosTest|LeaseProcessTest|ReadmeQuickStart|ServiceDatabaseTest\.(Scan|TheModelGuard)')
echo "sanitize: address+undefined clean"

cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=Debug -DFACEFILL_SANITIZE=thread -DFACEFILL_BENCH=OFF -DFACEFILL_GPU_RUNTIME=OFF \
  >/dev/null
cmake --build "$root/build-tsan" -j "$jobs" --target backfill_test fault_injection_test models_test postgres_test \
  qdrant_test redis_queue_test
export TSAN_OPTIONS="halt_on_error=1:suppressions=$supp/tsan.supp:second_deadlock_stack=1"
(cd "$root/build-tsan" && ctest --output-on-failure --no-tests=error -j "$jobs" \
  -R 'BackfillTest|FaultInjectionTest|DefaultPackTest.Clones|PostgresClaimsTest|QdrantStoreTest|RedisQueueRaceTest' \
  -E 'BrokenFiles')
# (BrokenFiles forks an unprivileged child that starts threads, which ThreadSanitizer cannot follow.)
echo "sanitize: thread clean"
