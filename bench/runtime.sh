#!/usr/bin/env bash
# The runtime against the FastAPI peer, same catalog, same load, same machine, same run.
#
# usage: bench/runtime.sh SCRATCH_DIR      (from the repository; ../shared beside it)
# env:   RUNS=1  DURATION=15 (s per wrk test)  CONNS=64  THREADS=2  PORT=18500
#        ISHOP_BIN=.build/release/ishop (build it first: swift build -c release --product ishop)
# Both servers get the Shopify fixtures of ../shared/fixtures/shopify; ../shared/bench/load
# drives GET /api/products/{handle}, GET /api/stock (20 SKUs) and POST /api/cart/items with wrk
# and samples the server's RSS. Also measured: cold start to the first 200 on /healthz.
# Only the server processes this script starts are stopped (by PID). Loopback only.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,11p' "$0"; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
load=$shared/bench/load
peer=$shared/bench/peer_fastapi
scratch=$(mkdir -p "$1" && cd "$1" && pwd)
RUNS=${RUNS:-1} DURATION=${DURATION:-15} CONNS=${CONNS:-64} THREADS=${THREADS:-2} PORT=${PORT:-18500}
ishop=$(cd "$repo" && realpath "${ISHOP_BIN:-.build/release/ishop}")
base=http://127.0.0.1:$PORT
results=$scratch/results
mkdir -p "$results"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ ! -x "$scratch/venv/bin/uvicorn" ]; then
  python3 -m venv "$scratch/venv"
  "$scratch/venv/bin/pip" install -q -r "$peer/requirements.txt"
fi
[ -x "$ishop" ] || { echo "error: $ishop is missing (swift build -c release --product ishop)" >&2; exit 1; }
ulimit -n 20000 2>/dev/null || true

csvs=("$shared"/fixtures/shopify/*.csv)
csv_args=()
for c in "${csvs[@]}"; do csv_args+=(--csv "$c"); done

# The peer's database, and ishop's: the same CSVs through each one's own importer.
rm -f "$scratch/peer.db" "$scratch/ishop.sqlite"
"$scratch/venv/bin/python" "$peer/load_catalog.py" "${csvs[@]}" "$scratch/peer.db" >/dev/null
# ishop's bench environment: bcrypt cost 10 as the peer's, and login rate limits out of the
# way (prepare.py signs 16 users in from one address), log lines at warning as the peer runs
# without an access log.
cat > "$scratch/site.yml" <<YAML
title: Bench Shop
currency: EUR
database: ishop.sqlite
environments:
  bench:
    host: 127.0.0.1
    port: $PORT
    serveStatic: false
    bcryptCost: 10
    rateLimits:
      authPerIP: {perMinute: 100000, burst: 100000}
      authPerAccount: {perMinute: 100000, burst: 100000}
YAML
"$ishop" import shopify --config "$scratch/site.yml" --env bench "${csvs[@]}" >/dev/null

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

run_one() {  # $1 = label, then the server command
  local label=$1 log="$results/$1.log" t0 r; shift
  : > "$log"
  for r in $(seq 1 "$RUNS"); do
    t0=$(date +%s%N)
    "$@" > "$results/server-$label.log" 2>&1 &
    server_pid=$!
    python3 "$load/wait_ready.py" "$base/healthz" "$t0" --timeout 60 | sed "s/^/$label | /" | tee -a "$log"
    sleep 2
    python3 "$load/rss_sample.py" --pid "$server_pid" --duration 0 | sed "s/^RSS/$label | RSS_IDLE/" | tee -a "$log"
    "$load/http_load.sh" "$base" "${csv_args[@]}" --duration "$DURATION" --conns "$CONNS" --threads "$THREADS" \
      --pid "$server_pid" --work "$scratch/work-$label-$r" 2>&1 | grep -E '^(RESULT|RSS)' | sed "s/^/$label | /" | tee -a "$log"
    stop_server
  done
}

run_one fastapi env PEER_DB="$scratch/peer.db" "$scratch/venv/bin/uvicorn" --app-dir "$peer" app:app --host 127.0.0.1 \
  --port "$PORT" --loop uvloop --http httptools --workers 2 --no-access-log
run_one ishop env ISHOP_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 "$ishop" serve --config "$scratch/site.yml" \
  --env bench --log-level warning

python3 "$load/summarize.py" "$results"/fastapi.log "$results"/ishop.log | tee "$results/summary.txt"
