#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ ASan/UBSan) and runs each from a seed corpus: image decoding and the
# model check for FUZZ_SECONDS (default 60), the URL, Qdrant-answer and Redis-reply parsers for FUZZ_PARSER_SECONDS
# (default 30). Longer runs: FUZZ_SECONDS=3600 FUZZ_PARSER_SECONDS=3600 scripts/fuzz.sh.
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
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEFILL_FUZZ=ON -DFACEFILL_GPU_RUNTIME=OFF \
  -DFACEFILL_SANITIZE=address,undefined -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_decode fuzz_onnx_graph fuzz_url fuzz_qdrant_response \
  fuzz_redis_reply fuzz_make_seeds

# Seeds: a small file of every accepted format, real photos (truncated too), and a real model.
seeds="$build/seeds"; mkdir -p "$seeds/decode" "$seeds/onnx" "$seeds/url" "$seeds/qdrant" "$seeds/redis" "$build/crashes"
ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/fuzz_make_seeds" "$seeds/decode"
cp "$root"/.deps/samples/sample2.jpg "$seeds/decode/"
head -c 100000 "$root/.deps/samples/sample1.jpg" > "$seeds/decode/truncated.jpg"
if [ -d "$root/../shared/images" ]; then
  find "$root/../shared/images" -type f -size -200k | head -20 | while read -r f; do cp "$f" "$seeds/decode/"; done
fi
cp "$root/.deps/models/faceplugin/fr_landmark.onnx" "$seeds/onnx/"
i=0
for u in 'redis://:pw@127.0.0.1:6379/2' 'qdrant://db.local:6333/faces?timeout_ms=500&retries=2' \
  'qdrants://[::1]:6334/faces' 'postgresql://user:secret@host:5432/library?sslmode=require' 'redis://h/%zz'; do
  printf '%s' "$u" > "$seeds/url/$((i += 1))"
done
printf '\x00{"result":{"points":[{"id":"a","score":0.5,"payload":{"asset_id":"12"}}],"next_page_offset":"b"},"status":"ok","time":0.1}' > "$seeds/qdrant/1"
printf '\x00{"result":{"config":{"params":{"vectors":{"size":512,"distance":"Cosine"}}}},"status":"ok"}' > "$seeds/qdrant/2"
printf '\x03{"status":{"error":"Not found: Collection `faces` doesn'"'"'t exist!"},"time":0}' > "$seeds/qdrant/3"
printf '\x00{"result":{"count":42},"status":"ok"}' > "$seeds/qdrant/4"
printf '+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n-ERR wrong\r\n' > "$seeds/redis/1"
for target in fuzz_decode fuzz_onnx_graph fuzz_url fuzz_qdrant_response fuzz_redis_reply; do
  case "$target" in
    fuzz_decode) corpus="$seeds/decode"; seconds="${FUZZ_SECONDS:-60}"; max_len=4000000 ;;
    fuzz_onnx_graph) corpus="$seeds/onnx"; seconds="${FUZZ_SECONDS:-60}"; max_len=4000000 ;;
    fuzz_url) corpus="$seeds/url"; seconds="${FUZZ_PARSER_SECONDS:-30}"; max_len=4096 ;;
    fuzz_qdrant_response) corpus="$seeds/qdrant"; seconds="${FUZZ_PARSER_SECONDS:-30}"; max_len=65536 ;;
    fuzz_redis_reply) corpus="$seeds/redis"; seconds="${FUZZ_PARSER_SECONDS:-30}"; max_len=65536 ;;
  esac
  echo "fuzz: $target for ${seconds}s"
  ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" "$build/fuzz/$target" -max_total_time="$seconds" \
    -max_len="$max_len" -rss_limit_mb=4096 -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 \
    "$corpus" 2>&1 | grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done' || true
  if ls "$build/crashes/$target-"* >/dev/null 2>&1; then
    echo "fuzz: $target found a crash: $(ls "$build/crashes/$target-"*)"; exit 1
  fi
done
echo "fuzz: no crashes"
