#!/usr/bin/env bash
# Parvis benchmarks on loopback (figures for the closing notes; never assertions in tests):
#  1. provisioning every commune as a tenant, on SQLite (target ≤ 10 s);
#  2. the commune home page under wrk, against nginx serving the very same bytes in the same
#     run (target: ≥ 0.5× nginx's throughput), with p99 latency at 64 connections;
#  3. idle resident memory of the server with every commune provisioned (target ≤ 300 MB).
# Usage: bench/load.sh [seconds per wrk run, default 15]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
connections=64

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "bench: $tool missing (scripts/install-deps)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "== building the release binary"
cargo build --release --quiet -p parvis
bin=$PWD/target/release/parvis

work=$(mktemp -d)
server_pid=""
nginx_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
seconds() { python3 -c 'import time; print(time.monotonic())'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

export DATABASE_URL="sqlite://$work/parvis.db"
export PARVIS_BASE_DOMAIN=parvis.localhost
export RUST_LOG=warn
"$bin" migrate >/dev/null
t0=$(seconds); "$bin" communes import >/dev/null; t1=$(seconds)
"$bin" tenant create --all >/dev/null; t2=$(seconds)
tenants=$("$bin" tenant list --limit 0 | tail -n 1)
import_s=$(python3 -c "print(f'{$t1-$t0:.2f}')")
provision_s=$(python3 -c "print(f'{$t2-$t1:.2f}')")

port=$(free_port)
PARVIS_BIND="127.0.0.1:$port" "$bin" serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 5
rss_idle=$(rss_mb "$server_pid")

mkdir -p "$work/www"
# nginx workers run as www-data: the page and its folders must be readable to them.
chmod 755 "$work" "$work/www"
curl -fs -H "Host: paris.$PARVIS_BASE_DOMAIN" "http://127.0.0.1:$port/" -o "$work/www/index.html"
chmod 644 "$work/www/index.html"
bytes=$(wc -c <"$work/www/index.html")

nport=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$nport;
    root $work/www;
    location = / { default_type text/html; charset utf-8; try_files /index.html =404; }
  }
}
CONF
mkdir -p "$work/tmp"
"$nginx_bin" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$nport/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -H "Host: paris.$PARVIS_BASE_DOMAIN" "http://127.0.0.1:$nport/" -o "$work/nginx.html" || true
if ! cmp -s "$work/www/index.html" "$work/nginx.html"; then
  echo "bench: nginx does not serve the same bytes ($(wc -c <"$work/nginx.html") vs $bytes)" >&2
  cat "$work/nginx-error.log" >&2 || true
  exit 1
fi

run_wrk() { # url -> "req/s p99"
  local out
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Host: paris.$PARVIS_BASE_DOMAIN" "$1")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  [ -z "$errors" ] || echo "   wrk reported: $errors" >&2
  echo "$rps $p99"
}

echo "== warming up"
wrk -t2 -c"$connections" -d3s -H "Host: paris.$PARVIS_BASE_DOMAIN" "http://127.0.0.1:$port/" >/dev/null
wrk -t2 -c"$connections" -d3s -H "Host: paris.$PARVIS_BASE_DOMAIN" "http://127.0.0.1:$nport/" >/dev/null
echo "== wrk -t2 -c$connections -d${duration}s, twice each, interleaved"
read -r p1 p1l < <(run_wrk "http://127.0.0.1:$port/")
read -r n1 n1l < <(run_wrk "http://127.0.0.1:$nport/")
read -r p2 p2l < <(run_wrk "http://127.0.0.1:$port/")
read -r n2 n2l < <(run_wrk "http://127.0.0.1:$nport/")
rss_loaded=$(rss_mb "$server_pid")

python3 - "$p1" "$p2" "$n1" "$n2" <<'PY' >"$work/ratio"
import sys
p1, p2, n1, n2 = map(float, sys.argv[1:])
print(f"{(p1 + p2) / 2:.0f} {(n1 + n2) / 2:.0f} {(p1 + p2) / (n1 + n2):.2f}")
PY
read -r parvis_rps nginx_rps ratio <"$work/ratio"

cat <<REPORT

Parvis benchmarks — commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)
  communes import (SQLite, release):           ${import_s} s
  provisioning every commune (tenant --all):   ${provision_s} s   [target ≤ 10 s] — ${tenants}
  commune home page (${bytes} bytes), wrk -t2 -c${connections}:
    parvis  ${parvis_rps} req/s   p99 ${p1l} / ${p2l}
    nginx   ${nginx_rps} req/s   p99 ${n1l} / ${n2l}
    ratio parvis/nginx: ${ratio}   [target ≥ 0.5]
  resident memory, every commune provisioned: idle ${rss_idle} MB, after load ${rss_loaded} MB   [target ≤ 300 MB]
REPORT
