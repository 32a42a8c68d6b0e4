#!/usr/bin/env bash
# Builds and installs pgvector 0.8.0 for PostgreSQL 15 from Debian trixie's source package (bookworm has none),
# using a private apt configuration so the machine's own apt sources stay untouched. Idempotent.
set -euo pipefail
pg_config=/usr/lib/postgresql/15/bin/pg_config
control="$($pg_config --sharedir)/extension/vector.control"
if [ -f "$control" ] && grep -q "default_version = '0.8.0'" "$control"; then exit 0; fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
work=$(mktemp -d /tmp/facefill-pgvector.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work"/{lists/partial,cache/archives/partial,parts,src}
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$work/sources.list"
printf 'Dir::Etc::SourceList "%s/sources.list";\nDir::Etc::SourceParts "%s/parts";\nDir::State::Lists "%s/lists";\nDir::Cache "%s/cache";\n' \
  "$work" "$work" "$work" "$work" > "$work/apt.conf"
APT_CONFIG="$work/apt.conf" apt-get update -q >/dev/null
cd "$work/src"
chown _apt . 2>/dev/null || true
APT_CONFIG="$work/apt.conf" apt-get source -q pgvector=0.8.0-1 >/dev/null
cd pgvector-0.8.0
make -s -j"$(nproc)" PG_CONFIG=$pg_config >/dev/null
$sudo make -s install PG_CONFIG=$pg_config >/dev/null
echo "setup: pgvector 0.8.0 installed for PostgreSQL 15"
