#!/usr/bin/env bash
# Starts a throw-away PostgreSQL 15 (with pgvector) and Redis 7 on free loopback ports for tests and benchmarks.
#   scripts/services.sh start ENVFILE  -> starts both in a new folder under /tmp and writes ENVFILE
#                                         (FACEFILL_TEST_PG, FACEFILL_TEST_PG_ADMIN, FACEFILL_TEST_REDIS)
#   scripts/services.sh stop ENVFILE   -> stops both and removes their folder
# Callers source ENVFILE and must call `stop` (trap EXIT; CTest runs it as a cleanup fixture). No systemd needed;
# runs as root (the server runs as the postgres user) or as a normal user.
set -euo pipefail
pgbin=/usr/lib/postgresql/15/bin
cmd=${1:?start|stop}
envfile=${2:?env file}
dir=""

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

random_port() { echo $((20000 + RANDOM % 40000)); }

start() {
  stop  # a previous run that was killed
  dir=$(mktemp -d /tmp/facefill-services.XXXXXX)
  mkdir -p "$dir/pg" "$(dirname "$envfile")"
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pg"
  as_postgres $pgbin/initdb -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  local pg_port redis_port tries
  for tries in 1 2 3 4 5 6 7 8; do
    pg_port=$(random_port)
    if as_postgres $pgbin/pg_ctl -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null; then
      break
    fi
    [ "$tries" -eq 8 ] && { cat "$dir/pg/server.log" >&2; return 1; }
  done
  psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -c 'CREATE DATABASE facetest' >/dev/null
  for tries in 1 2 3 4 5 6 7 8; do
    redis_port=$(random_port)
    if redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --dir "$dir" \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null; then
      local waited=0
      until redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
        sleep 0.05; waited=$((waited + 1))
        [ "$waited" -gt 100 ] && break
      done
      redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    fi
    [ "$tries" -eq 8 ] && { cat "$dir/redis.log" >&2; return 1; }
  done
  cat > "$envfile" <<ENV
export FACEFILL_SERVICES_DIR=$dir
export FACEFILL_TEST_PG=postgresql://postgres@127.0.0.1:$pg_port/facetest
export FACEFILL_TEST_PG_ADMIN=postgresql://postgres@127.0.0.1:$pg_port/postgres
export FACEFILL_TEST_REDIS=redis://127.0.0.1:$redis_port/0
ENV
  echo "services: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
}

stop() {
  [ -f "$envfile" ] || return 0
  dir=$(sed -n 's/^export FACEFILL_SERVICES_DIR=//p' "$envfile")
  rm -f "$envfile"
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  if [ -d "$dir/pg/data" ]; then as_postgres $pgbin/pg_ctl -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop ENVFILE" >&2; exit 2 ;;
esac
