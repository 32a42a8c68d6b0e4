#!/usr/bin/env bash
# Installs everything facefill needs on Debian 12, idempotently: apt packages (with PostgreSQL 15 and Redis 7 for
# the tests), pgvector built from Debian source, ONNX Runtime (C/C++), the default model pack and sample photos from
# the npm registry, and the Qdrant OpenAPI types with TypeScript for the contract tests, each verified by SHA-256.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
mkdir -p "$deps/downloads"

apt_packages=(
  build-essential cmake pkg-config clang-format ca-certificates
  libopencv-dev libheif-dev libturbojpeg0-dev libsqlite3-dev libpqxx-dev libpq-dev libhiredis-dev
  libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev uuid-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhnswlib-dev libcpp-httplib-dev
  postgresql postgresql-server-dev-15 redis-server
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
