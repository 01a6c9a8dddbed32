#!/usr/bin/env bash
# Officials import benchmark: N rows (default 500,000) of a generated file in the real RNE
# format, imported into SQLite with every commune provisioned (target ≤ 30 s), then imported
# again (the idempotent update path).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-500000}
cargo build --release --quiet -p parvis
bin=$PWD/target/release/parvis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_rne.py "$rows" "$work/elus-conseillers-municipaux-cm.csv"
export DATABASE_URL="sqlite://$work/parvis.db" RUST_LOG=warn
"$bin" communes import >/dev/null
"$bin" tenant create --all >/dev/null
seconds() { python3 -c 'import time; print(time.monotonic())'; }
t0=$(seconds); "$bin" officials import --file "$work/elus-conseillers-municipaux-cm.csv"; t1=$(seconds)
"$bin" officials import --file "$work/elus-conseillers-municipaux-cm.csv"; t2=$(seconds)
python3 - "$rows" "$t0" "$t1" "$t2" <<'PY'
import sys
rows, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"\nofficials import, {rows} rows (SQLite, release): first {t1-t0:.1f} s ({rows/(t1-t0):,.0f} rows/s), "
      f"re-import {t2-t1:.1f} s   [target ≤ 30 s]")
PY
