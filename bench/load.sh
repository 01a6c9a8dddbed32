#!/usr/bin/env bash
# Parvis load benchmarks on loopback: the release binary runs as its own process and wrk loads
# it over TCP from another, after a warm-up; every page is measured against nginx serving the
# very same bytes in the same run (interleaved, twice each), since absolute figures move with
# the machine and its load. Figures for the closing notes, never assertions in tests.
#  1. provisioning every commune as a tenant, on SQLite (target ≤ 10 s);
#  2. pages at 64 connections, req/s and p50/p99:
#     - a commune's home page, anonymous: served from the 10 s page cache (target ≥ 0.5× nginx);
#     - the demo commune (Annecy: its council, posts with images, an alert, polls, office
#       hours, a donation campaign), anonymous (cached), then signed in as its admin (rendered
#       for that person at each request), and a citizen's feed (`/fil`) — signed-in targets:
#       ≥ 0.25× nginx and p99 ≤ 20 ms;
#  3. a mix over many communes: anonymous visitors, 5 signed-in citizens reading the demo
#     commune, its posts and its feed, and reacting to posts (writes), against nginx serving
#     each response's bytes in the same order;
#  4. idle resident memory with every commune provisioned (target ≤ 300 MB).
# With PARVIS_BENCH_PG_URL (a PostgreSQL server URL whose user may create databases), the
# signed-in pages and the mix run again on PostgreSQL, in a database made and dropped here.
# PARVIS_BENCH_DEBUG=1 prints a third run of the mix in full (errors, latency spread).
# Usage: bench/load.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
duration=${1:-10}
connections=64

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "bench: $tool missing (scripts/install-deps)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "== building the release binary and the feature modules"
cargo build --release --quiet -p parvis
cargo build --quiet --profile module --target wasm32-wasip2 \
  -p parvis-module-polls -p parvis-module-donations -p parvis-module-office-hours -p parvis-module-alerts -p parvis-module-reports -p parvis-module-ideas -p parvis-module-commitments -p parvis-module-consultations -p parvis-module-geo-evaluation
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/parvis
export PARVIS_DEMO_MODULES=$target/wasm32-wasip2/module

work=$(mktemp -d)
server_pid=""
nginx_pid=""
pg_db=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$pg_db" ]; then psql "$PARVIS_BENCH_PG_URL" -X -q -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# The server's data folder (installed modules, media) lands in the work folder.
cd "$work"

seconds() { python3 -c 'import time; print(time.monotonic())'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
export PARVIS_BASE_DOMAIN=parvis.localhost
export RUST_LOG=warn
demo_host=annecy.$PARVIS_BASE_DOMAIN
password=parvis-demo-2026

# Starts `parvis serve [args]` on a port the kernel picks; sets server_pid and port.
start_server() {
  local log=$work/serve-$RANDOM.log
  PARVIS_BIND=127.0.0.1:0 "$bin" serve "$@" >"$log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 600); do
    port=$(sed -n 's/^Parvis écoute sur 127\.0\.0\.1:\([0-9]*\)\..*/\1/p' "$log" | head -n 1)
    if [ -n "$port" ] && { [ "${1:-}" != --demo ] || grep -q "^Commune de démonstration" "$log"; }; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: parvis serve $* did not start:" >&2
  cat "$log" >&2
  exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# The database: migrations, the registry, the demo commune with its content (before every
# other commune, or it would be opened empty), then every commune.
prepare_db() {
  "$bin" migrate >/dev/null
  local t0 t1 t2
  t0=$(seconds); "$bin" communes import >/dev/null 2>&1; t1=$(seconds)
  start_server --demo
  stop_server
  t2=$(seconds); "$bin" tenant create --all >/dev/null; t3=$(seconds)
  import_s=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  provision_s=$(python3 -c "print(f'{$t3-$t2:.2f}')")
}

# A session as a Cookie header value: the sign-in form, posted with its CSRF token.
signin() { # host email
  local h1=$work/h1 h2=$work/h2 csrf tok sess
  tok=$(curl -fs -D "$h1" -H "Host: $1" "http://127.0.0.1:$port/connexion" |
    grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')
  csrf=$(grep -i '^set-cookie: parvis_csrf=' "$h1" | sed 's/^[^=]*=//;s/;.*//' | tr -d '\r')
  curl -s -D "$h2" -o /dev/null -H "Host: $1" -H "Cookie: parvis_csrf=$csrf" \
    --data-urlencode "csrf_token=$tok" --data-urlencode "email=$2" \
    --data-urlencode "password=$password" --data-urlencode "next=/" "http://127.0.0.1:$port/connexion"
  sess=$(grep -i '^set-cookie: parvis_session=' "$h2" | sed 's/^[^:]*: //;s/;.*//' | tr -d '\r')
  [ -n "$sess" ] || { echo "bench: $2 could not sign in" >&2; exit 1; }
  echo "parvis_csrf=$csrf; $sess"
}

mkdir -p "$work/www/r" "$work/tmp"
# nginx workers run as www-data: the pages and their folders must be readable to them.
chmod 755 "$work" "$work/www" "$work/www/r"
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
    listen 127.0.0.1:0;
    root $work/www;
    default_type text/html; charset utf-8;
  }
}
CONF
# nginx cannot report a port it picked: bind one, then read it back from the process.
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/listen 127.0.0.1:0;/listen 127.0.0.1:$nport;/" "$work/nginx.conf"
"$nginx_bin" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!

run_wrk() { # url [wrk args…] -> "req/s p50 p99 errors"
  local url=$1 out
  shift
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" "$url")
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
       /Non-2xx/ {err+=$NF} /Socket errors/ {err+=1}
       END {printf "%s %s %s %d\n", rps, p50, p99, err}' <<<"$out"
}

report=$work/report
row() { # label bytes p_rps p_p50 p_p99 n_rps n_p50 n_p99 errors target
  python3 - "$@" <<'PY' >>"$report"
import sys
label, size, pr, p50, p99, nr, n50, n99, err, target = sys.argv[1:]
ratio = float(pr) / float(nr)
flag = "" if err == "0" else f"   ({err} answers neither 2xx nor 3xx)"
def n(x):
    return f"{float(x):,.0f}".replace(",", " ")
print(f"  {label} ({n(size)} bytes)")
print(f"    parvis {n(pr):>9} req/s  p50 {p50:>8}  p99 {p99:>8}{flag}")
print(f"    nginx  {n(nr):>9} req/s  p50 {n50:>8}  p99 {n99:>8}")
print(f"    ratio parvis/nginx {ratio:.2f}   [{target}]")
PY
}

# Two runs' "req/s p50 p99 errors" as one: the mean rate, the worse latencies, all errors.
both_runs() {
  python3 - "$@" <<'PY'
import sys, re
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v); x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
runs = [r.split() for r in sys.argv[1:]]
rps = sum(float(r[0]) for r in runs) / len(runs)
p50 = max(runs, key=lambda r: ms(r[1]))[1]; p99 = max(runs, key=lambda r: ms(r[2]))[2]
print(rps, p50, p99, sum(int(r[3]) for r in runs))
PY
}

# One page, warmed up, then parvis and nginx twice each, interleaved.
page_vs_nginx() { # label host path cookie target
  local label=$1 host=$2 path=$3 cookie=$4 target=$5 file
  pages=$((pages + 1))
  file=page-$pages.html
  local headers=(-H "Host: $host")
  [ -z "$cookie" ] || headers+=(-H "Cookie: $cookie")
  curl -fs "${headers[@]}" "http://127.0.0.1:$port$path" -o "$work/www/$file"
  chmod 644 "$work/www/$file"
  curl -fs "http://127.0.0.1:$nport/$file" -o "$work/nginx.html"
  cmp -s "$work/www/$file" "$work/nginx.html" || { echo "bench: nginx does not serve the same bytes" >&2; exit 1; }
  wrk -t2 -c"$connections" -d3s "${headers[@]}" "http://127.0.0.1:$port$path" >/dev/null
  wrk -t2 -c"$connections" -d3s "http://127.0.0.1:$nport/$file" >/dev/null
  local a b c d
  a=$(run_wrk "http://127.0.0.1:$port$path" "${headers[@]}")
  b=$(run_wrk "http://127.0.0.1:$nport/$file")
  c=$(run_wrk "http://127.0.0.1:$port$path" "${headers[@]}")
  d=$(run_wrk "http://127.0.0.1:$nport/$file")
  # Both runs are kept in the figures: req/s is their mean, latencies the worse of the two.
  read -r pr p50 p99 perr < <(both_runs "$a" "$c")
  read -r nr n50 n99 _ < <(both_runs "$b" "$d")
  row "$label" "$(wc -c <"$work/www/$file")" "$pr" "$p50" "$p99" "$nr" "$n50" "$n99" "$perr" "$target"
}

# The mix: anonymous visitors of 40 communes, the 5 demo citizens signed in on the demo commune
# (home, feed, a post, the polls), one request in fourteen a reaction given or taken back.
mix_vs_nginx() { # label
  local label=$1 mix=$work/mix.tsv i=0 cookie post
  : >"$mix"
  post=$(curl -fs -H "Host: $demo_host" "http://127.0.0.1:$port/" | grep -o 'id="post-[^"]*"' | head -n 1 | sed 's/id="post-/\/publications\//;s/"$//' || true)
  [ -n "$post" ] || { echo "bench: the demo commune shows no post" >&2; exit 1; }
  mapfile -t hosts < <("$bin" tenant list --limit 40 | awk '$NF ~ /^[a-z0-9-]+\.[a-z]/ {print $NF}')
  for n in $(seq 1 5); do
    cookie=$(signin "$demo_host" "habitant-$n@parvis.localhost")
    csrf=$(sed 's/^parvis_csrf=//;s/;.*//' <<<"$cookie")
    for path in / /fil "$post" /m/polls/ /; do
      printf 'GET\t%s\t%s\t%s\t\t\n' "$demo_host" "$path" "$cookie" >>"$mix"
    done
    printf 'POST\t%s\t%s/reactions\t%s\t%s\treaction=merci&etat=%s\n' "$demo_host" "$post" "$cookie" "$csrf" $((n % 2)) >>"$mix"
    for k in $(seq 0 7); do
      printf 'GET\t%s\t/\t\t\t\n' "${hosts[$(((n * 8 + k) % ${#hosts[@]}))]}" >>"$mix"
    done
  done
  # The bytes of each line's answer, for nginx (a reaction answers with a redirect: empty).
  while IFS=$'\t' read -r method host path cookie csrf body; do
    i=$((i + 1))
    if [ "$method" = GET ]; then
      curl -fs -H "Host: $host" ${cookie:+-H "Cookie: $cookie"} "http://127.0.0.1:$port$path" -o "$work/www/r/$i.html"
    else
      : >"$work/www/r/$i.html"
    fi
  done <"$mix"
  chmod 644 "$work"/www/r/*.html
  local lines bytes
  lines=$(wc -l <"$mix")
  bytes=$(cat "$work"/www/r/*.html | wc -c)
  export PARVIS_MIX=$mix
  wrk -t2 -c"$connections" -d3s -s "$root/bench/mix.lua" "http://127.0.0.1:$port/" >/dev/null
  local a b
  a=$(run_wrk "http://127.0.0.1:$port/" -s "$root/bench/mix.lua")
  [ -z "${PARVIS_BENCH_DEBUG:-}" ] || wrk -t2 -c"$connections" -d3s --latency -s "$root/bench/mix.lua" "http://127.0.0.1:$port/" >&2
  b=$(PARVIS_MIX_NGINX=1 run_wrk "http://127.0.0.1:$nport/" -s "$root/bench/mix.lua")
  read -r pr p50 p99 perr <<<"$a"
  read -r nr n50 n99 _ <<<"$b"
  row "$label: $lines requests in turn, 1 in 14 a reaction (past 30 a minute per account: 429)" "$((bytes / lines))" "$pr" "$p50" "$p99" "$nr" "$n50" "$n99" "$perr" "signed-in target ≥ 0.25"
}

signed_in_pages() { # backend label
  local admin citizen
  admin=$(signin "$demo_host" admin@parvis.localhost)
  citizen=$(signin "$demo_host" habitant-1@parvis.localhost)
  # The citizen follows the demo commune, so that the feed has its posts.
  local csrf=${citizen#parvis_csrf=}
  csrf=${csrf%%;*}
  curl -fs -o /dev/null -H "Host: $demo_host" -H "Cookie: $citizen" \
    --data "csrf_token=$csrf&target=commune&action=suivre" "http://127.0.0.1:$port/suivre"
  page_vs_nginx "$1: demo commune home, signed in as its admin" "$demo_host" / "$admin" "target ≥ 0.25, p99 ≤ 20 ms"
  page_vs_nginx "$1: a citizen's feed (/fil)" "$demo_host" /fil "$citizen" "target ≥ 0.25, p99 ≤ 20 ms"
  mix_vs_nginx "$1: the mix"
}

: >"$report"
pages=0
echo "== SQLite: provisioning every commune"
export DATABASE_URL="sqlite://$work/parvis.db"
prepare_db
sqlite_import_s=$import_s sqlite_provision_s=$provision_s
tenants=$("$bin" tenant list --limit 0 | tail -n 1)
start_server
sleep 5
rss_idle=$(rss_mb "$server_pid")
echo "== SQLite: pages"
page_vs_nginx "SQLite: Paris's home page, anonymous (page cache)" "paris.$PARVIS_BASE_DOMAIN" / "" "target ≥ 0.5"
page_vs_nginx "SQLite: demo commune home, anonymous (page cache)" "$demo_host" / "" "target ≥ 0.5"
signed_in_pages SQLite
rss_loaded=$(rss_mb "$server_pid")
stop_server

if [ -n "${PARVIS_BENCH_PG_URL:-}" ]; then
  echo "== PostgreSQL: the same database, then the signed-in pages"
  pg_db=parvis_bench_$$
  psql "$PARVIS_BENCH_PG_URL" -X -q -c "CREATE DATABASE $pg_db" >/dev/null
  export DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PARVIS_BENCH_PG_URL" "$pg_db")
  rm -rf "$work/parvis-data"
  prepare_db
  start_server
  signed_in_pages PostgreSQL
  stop_server
fi

cat <<REPORT

Parvis load benchmarks — commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), wrk -t2 -c$connections, ${duration} s × 2 runs each
  communes import (SQLite, release):           ${sqlite_import_s} s
  provisioning every commune (tenant --all):   ${sqlite_provision_s} s   [target ≤ 10 s] — ${tenants}
  resident memory, every commune provisioned: idle ${rss_idle} MB, after load ${rss_loaded} MB   [target ≤ 300 MB]
$(cat "$report")
REPORT
