#!/usr/bin/env bash
# WebSocket fan-out (issue 7 item 5): ishop serve against the FastAPI peer, same client, same run.
#
# usage: bench/ws.sh SCRATCH_DIR      (from the repository; ../shared beside it)
# env:   CLIENTS=1000  UPDATES=50  INTERVAL=0.2   (../shared/bench/load/ws_fanout.py arguments)
#        SLOW=20 (the slow-consumer pair of runs; 0 skips it)   RUNS=1   PORT=18600
#        SERVERS="floor fastapi ishop" (which to run)   ISHOP_BIN=.build/release/ishop
# First the client's floor: its latency against bench/ws_floor.py, a broadcaster with no database
# that does nothing else; then the peer (one uvicorn worker: its hub is in-process) and ishop
# (SQLite, one process), each with CLIENTS clients, then each again with SLOW clients that never read.
# Only the server processes this script starts are stopped (by PID). Loopback only.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,12p' "$0"; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
load=$shared/bench/load
peer=$shared/bench/peer_fastapi
scratch=$(mkdir -p "$1" && cd "$1" && pwd)
CLIENTS=${CLIENTS:-1000} UPDATES=${UPDATES:-50} INTERVAL=${INTERVAL:-0.2} SLOW=${SLOW:-20}
RUNS=${RUNS:-1} PORT=${PORT:-18600} SERVERS=${SERVERS:-floor fastapi ishop}
ishop=$(cd "$repo" && realpath -m "${ISHOP_BIN:-.build/release/ishop}")
base=http://127.0.0.1:$PORT
admin=admin@example.com:bench-admin-pass
results=$scratch/results
mkdir -p "$results"
rm -f "$results"/*.log   # a summary of this run only

if [ ! -x "$scratch/venv/bin/uvicorn" ]; then
  python3 -m venv "$scratch/venv"
  "$scratch/venv/bin/pip" install -q -r "$peer/requirements.txt"
fi
export PATH=$scratch/venv/bin:$PATH
ulimit -n 20000 2>/dev/null || true

csvs=("$shared"/fixtures/shopify/*.csv)
rm -f "$scratch/peer.db" "$scratch/ishop.sqlite"
python3 "$peer/load_catalog.py" "${csvs[@]}" "$scratch/peer.db" --admin "$admin" >/dev/null
skus=$(python3 - "$scratch/peer.db" <<'PY'
import sqlite3, sys
print(",".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT sku FROM variants ORDER BY id LIMIT 4")))
PY
)

if [[ " $SERVERS " == *" ishop "* ]]; then
  [ -x "$ishop" ] || { echo "error: $ishop is missing (swift build -c release --product ishop)" >&2; exit 1; }
  # bcrypt cost 10 as the peer's; access log off (warning level) as the peer runs without one.
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
    allowedOrigins: [http://127.0.0.1:$PORT]
YAML
  "$ishop" import shopify --config "$scratch/site.yml" --env bench "${csvs[@]}" >/dev/null
  printf '%s\n' "${admin#*:}" | "$ishop" user create --config "$scratch/site.yml" --env bench --email "${admin%%:*}" --admin >/dev/null
  # Each importer makes up SKUs for rows without one in its own way: ask each database.
  ishop_skus=$(python3 - "$scratch/ishop.sqlite" <<'PY'
import sqlite3, sys
print(",".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT sku FROM variants ORDER BY id LIMIT 4")))
PY
)
fi

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

start() {  # $1 = server name
  local t0
  t0=$(date +%s%N)
  case $1 in
    floor) uvicorn --app-dir "$repo/bench" ws_floor:app --host 127.0.0.1 --port "$PORT" --loop uvloop --http httptools \
             --no-access-log > "$results/server-floor.log" 2>&1 & ;;
    fastapi) PEER_DB=$scratch/peer.db uvicorn --app-dir "$peer" app:app --host 127.0.0.1 --port "$PORT" --loop uvloop \
               --http httptools --workers 1 --no-access-log > "$results/server-fastapi.log" 2>&1 & ;;
    ishop) ISHOP_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 "$ishop" serve --config "$scratch/site.yml" \
             --env bench --log-level warning > "$results/server-ishop.log" 2>&1 & ;;
  esac
  server_pid=$!
  python3 "$load/wait_ready.py" "$base/healthz" "$t0" --timeout 60 >/dev/null
  sleep 1
}

suite() {  # $1 = label, $2 = server, rest = ws_fanout arguments
  local label=$1 server=$2 log="$results/$1.log" r l1 rest; shift 2
  : > "$log"
  for r in $(seq 1 "$RUNS"); do
    read -r l1 rest < /proc/loadavg
    echo "$label | LOADAVG load1=$l1" | tee -a "$log"
    start "$server"
    local these=$skus
    [ "$server" = ishop ] && these=$ishop_skus
    # The Origin of a page of the shop: ishop checks it against allowedOrigins (403 otherwise).
    python3 "$load/ws_fanout.py" --base "$base" --admin "$admin" --skus "$these" --origin "$base" --pid "$server_pid" "$@" 2>&1 \
      | sed "s/^/$label | /" | tee -a "$log"
    stop_server
  done
}

for server in $SERVERS; do
  suite "ws-$CLIENTS-$server" "$server" --clients "$CLIENTS" --updates "$UPDATES" --interval "$INTERVAL"
done
if [ "$SLOW" -gt 0 ]; then
  for server in $SERVERS; do
    [ "$server" = floor ] && continue
    suite "ws-$CLIENTS-$server-control" "$server" --clients "$CLIENTS" --updates "$UPDATES" --interval "$INTERVAL"
    suite "ws-$CLIENTS-$server-slow$SLOW" "$server" --clients "$CLIENTS" --slow "$SLOW" --updates "$UPDATES" --interval "$INTERVAL"
  done
fi

python3 "$load/summarize.py" "$results"/*.log | tee "$results/summary.txt"
