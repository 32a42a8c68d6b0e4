#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ ASan/UBSan) and runs each for FUZZ_SECONDS (default 60) from a seed
# corpus of small valid images and model headers. Longer runs: FUZZ_SECONDS=3600 scripts/fuzz.sh.
# A crash leaves its input in build-fuzz/crashes/ and fails the run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEFILL_FUZZ=ON \
  -DFACEFILL_SANITIZE=address,undefined -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_decode fuzz_onnx_graph fuzz_make_seeds

# Seeds: a small file of every accepted format, real photos (truncated too), and a real model.
seeds="$build/seeds"; mkdir -p "$seeds/decode" "$seeds/onnx" "$build/crashes"
ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/fuzz_make_seeds" "$seeds/decode"
cp "$root"/.deps/samples/sample2.jpg "$seeds/decode/"
head -c 100000 "$root/.deps/samples/sample1.jpg" > "$seeds/decode/truncated.jpg"
if [ -d "$root/../shared/images" ]; then
  find "$root/../shared/images" -type f -size -200k | head -20 | while read -r f; do cp "$f" "$seeds/decode/"; done
fi
cp "$root/.deps/models/faceplugin/fr_landmark.onnx" "$seeds/onnx/"
seconds="${FUZZ_SECONDS:-60}"
for target in fuzz_decode fuzz_onnx_graph; do
  corpus="$seeds/decode"; [ "$target" = fuzz_onnx_graph ] && corpus="$seeds/onnx"
  echo "fuzz: $target for ${seconds}s"
  ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" "$build/fuzz/$target" -max_total_time="$seconds" \
    -max_len=4000000 -rss_limit_mb=4096 -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 \
    "$corpus" 2>&1 | grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done' || true
  if ls "$build/crashes/$target-"* >/dev/null 2>&1; then
    echo "fuzz: $target found a crash: $(ls "$build/crashes/$target-"*)"; exit 1
  fi
done
echo "fuzz: no crashes"
