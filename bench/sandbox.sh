#!/usr/bin/env bash
# Fairness between communes (issue 14): Lyon's p50/p99 (sign-in GET+POST, a module GET, a
# module GET that writes, the commune home page) at rest, then while Paris's module misbehaves
# in each way the hostile and assailant modules offer (the writer held in a loop, CPU loops,
# memory bombs, storage fill, floods of notices, e-mails, SMS and posts, …; a route the
# assailant does not have yet is skipped), with each figure's ratio to the at-rest one of the
# same run. On the release binary over loopback, on a fresh SQLite database, and on PostgreSQL
# too when PARVIS_BENCH_PG_URL is set (a server URL: a scratch database is created and dropped).
# Usage: bench/sandbox.sh [seconds per scenario, default 12]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-12}
accounts=24
password="mot-de-passe-solide"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool missing (scripts/install-deps)" >&2; exit 1; }
done

echo "== building the release binary and the modules" >&2
cargo build --release --quiet -p parvis
cargo build --profile module --target wasm32-wasip2 --quiet \
  -p parvis-module-hostile -p parvis-module-assailant
bin=$PWD/target/release/parvis
wasm=$PWD/target/wasm32-wasip2/module

work=$(mktemp -d)
server_pid=""
pg_db=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql -q "$PARVIS_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export PARVIS_BASE_DOMAIN=parvis.localhost
export PARVIS_TRUST_PROXY=1
export PARVIS_MODULE_CACHE=$work/module-cache
export RUST_LOG=error

run() { # backend database-url
  local backend=$1
  export DATABASE_URL=$2
  echo "== $backend: provisioning Paris and Lyon, $accounts Lyon accounts, hostile and assailant" >&2
  "$bin" migrate >/dev/null
  "$bin" communes import >/dev/null
  "$bin" tenant create --insee 75056 --slug paris >/dev/null
  "$bin" tenant create --insee 69123 --slug lyon >/dev/null
  local paris=paris lyon=lyon
  for module in hostile assailant; do
    "$bin" module install "$wasm/parvis_module_$module.wasm" >/dev/null
    "$bin" module enable --tenant "$paris" "$module" >/dev/null
    "$bin" module enable --tenant "$lyon" "$module" >/dev/null
  done
  for i in $(seq 0 $((accounts - 1))); do
    "$bin" user create --email "habitant$i@lyon.fr" --password "$password" >/dev/null
  done

  local port
  port=$(free_port)
  PARVIS_BIND="127.0.0.1:$port" "$bin" serve >"$work/serve-$backend.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  sleep 2
  echo "== $backend: ${seconds}s per scenario" >&2
  echo
  echo "Lyon while Paris misbehaves — $backend, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
  python3 bench/sandbox_load.py "$bin" "$port" "$PARVIS_BASE_DOMAIN" "$paris" "$lyon" \
    "$accounts" "$password" "$seconds"
  echo "  server: resident $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$server_pid/status"), database $(du -sh "$work" | cut -f1) in $work"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

run sqlite "sqlite://$work/parvis.db"
if [ -n "${PARVIS_BENCH_PG_URL:-}" ]; then
  pg_db="parvis_sandbox_$$"
  psql -q "$PARVIS_BENCH_PG_URL" -c "CREATE DATABASE $pg_db" >/dev/null
  run postgres "$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PARVIS_BENCH_PG_URL" "$pg_db")"
fi
