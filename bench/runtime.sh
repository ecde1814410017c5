#!/usr/bin/env bash
# The runtime against the FastAPI peer, same catalog, same load, same machine, same run.
#
# usage: bench/runtime.sh SCRATCH_DIR      (from the repository; ../shared beside it)
# env:   RUNS=1  DURATION=15 (s per wrk test)  CONNS=64  THREADS=2  PORT=18500  CART_USERS=128
#        ISHOP_BIN=.build/release/ishop (build it first: swift build -c release --product ishop)
#        DOC=1 (write the table into docs/benchmarks.md between the runtime markers; 0: print only)
# Both servers get the Shopify fixtures of ../shared/fixtures/shopify; ../shared/bench/load
# drives GET /api/products/{handle}, GET /api/stock (20 SKUs) and POST /api/cart/items with wrk
# and samples the server's RSS. Also measured: cold start to the first 200 on /healthz, and each
# server's floor: GET /healthz under the same load (bench/floor.lua), which does no work at all.
# Only the server processes this script starts are stopped (by PID). Loopback only.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,11p' "$0"; exit 2; }
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
load=$shared/bench/load
peer=$shared/bench/peer_fastapi
scratch=$(mkdir -p "$1" && cd "$1" && pwd)
RUNS=${RUNS:-1} DURATION=${DURATION:-15} CONNS=${CONNS:-64} THREADS=${THREADS:-2} PORT=${PORT:-18500} CART_USERS=${CART_USERS:-128}
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

read -r load_before _ < /proc/loadavg
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

trap stop_server EXIT

run_one() {  # $1 = label, then the server command
  local label=$1 log="$results/$1.log" r; shift
  : > "$log"
  for r in $(seq 1 "$RUNS"); do
    # Not in a pipeline: start_server sets server_pid in this shell.
    start_server "$results/server-$label.log" "$base/healthz" "$@" > "$results/ready-$label"
    sed "s/^/$label | /" "$results/ready-$label" | tee -a "$log"
    sleep 2
    python3 "$load/rss_sample.py" --pid "$server_pid" --duration 0 | sed "s/^RSS/$label | RSS_IDLE/" | tee -a "$log"
    "$load/http_load.sh" "$base" "${csv_args[@]}" --duration "$DURATION" --conns "$CONNS" --threads "$THREADS" \
      --pid "$server_pid" --work "$scratch/work-$label-$r" 2>&1 | grep -E '^(RESULT|RSS)' | sed "s/^/$label | /" | tee -a "$log"
    # The load tool's cart test adds to the same 320 lines (16 users x 20 SKUs) without end, so
    # after about 32,000 requests every line holds 99 units and ishop answers 422 (the peer has
    # no bound): its rate then counts cheap refusals. The same load with CART_USERS users, whose
    # 20 x CART_USERS lines cannot fill up within the test, measures the add itself.
    python3 "$load/prepare.py" --base "$base" "${csv_args[@]}" --users "$CART_USERS" --out "$scratch/work-$label-$r-carts" >/dev/null
    WRK_DATA="$scratch/work-$label-$r-carts" WRK_MODE=cart wrk -t "$THREADS" -c "$CONNS" -d 2s -s "$load/bench.lua" "$base" >/dev/null
    WRK_DATA="$scratch/work-$label-$r-carts" WRK_MODE=cart wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 5s --latency \
      -s "$load/bench.lua" "$base" | grep '^RESULT' | sed "s/mode=cart/mode=cart_fresh/; s/^/$label | /" | tee -a "$log"
    wrk -t "$THREADS" -c "$CONNS" -d 2s -s "$repo/bench/floor.lua" "$base" >/dev/null
    wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 5s -s "$repo/bench/floor.lua" "$base" \
      | grep '^RESULT' | sed "s/^/$label | /" | tee -a "$log"
    stop_server
  done
}

run_one fastapi env PEER_DB="$scratch/peer.db" "$scratch/venv/bin/uvicorn" --app-dir "$peer" app:app --host 127.0.0.1 \
  --port "$PORT" --loop uvloop --http httptools --workers 2 --no-access-log
run_one ishop env ISHOP_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 "$ishop" serve --config "$scratch/site.yml" \
  --env bench --log-level warning

python3 "$load/summarize.py" "$results"/fastapi.log "$results"/ishop.log | tee "$results/summary.txt"

# The table for docs/benchmarks.md (between the runtime markers; DOC=0 prints it only): medians
# over the runs with [min..max], ratios, and issue 6's targets against this run.
read -r load_after _ < /proc/loadavg
table=$(CART_USERS=$CART_USERS python3 - "$results" "$RUNS" "$DURATION" "$CONNS" "$THREADS" "$load_before" "$load_after" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY2'
import os, re, statistics, sys, time
results, runs, duration, conns, threads, load_before, load_after, commit = sys.argv[1:]
def read(label):
    rows = {}
    for line in open(f"{results}/{label}.log"):
        _, _, rest = line.partition(" | ")
        kind = rest.split()[0] if rest.split() else ""
        mode = re.search(r"\bmode=(\w+)", rest)
        key = kind + (" " + mode.group(1) if mode else "")
        fields = dict(re.findall(r"(\w+)=(-?[\d.]+)", rest))
        rows.setdefault(key, []).append({k: float(v) for k, v in fields.items() if k != "mode"})
    return rows
peer, ours = read("fastapi"), read("ishop")
def med(rows, key, field):
    values = [row[field] for row in rows.get(key, []) if field in row]
    return (statistics.median(values), min(values), max(values)) if values else (float("nan"),) * 3
def cell(value, digits=0):
    m, lo, hi = value
    fmt = f"{{:.{digits}f}}"
    return fmt.format(m) + (f" [{fmt.format(lo)}..{fmt.format(hi)}]" if lo != hi else "")
tests = [("products", "GET /api/products/{handle}"), ("stock", "GET /api/stock (20 SKUs)"),
         ("cart", "POST /api/cart/items (the load tool's 16 users: lines fill up, ishop then answers 422)"),
         ("cart_fresh", "POST /api/cart/items, more users (no line reaches 99 units)")]
# The targets are judged on the tests that measure the work: the cart with lines that fill up
# mostly counts ishop's 422 refusals, which the peer (no bound) never gives.
judged = ["products", "stock", "cart_fresh"]
lines = [f"Command: `RUNS={runs} DURATION={duration} bench/runtime.sh SCRATCH` (CONNS={conns}, THREADS={threads}, CART_USERS={os.environ['CART_USERS']}), release build of {commit}, "
         f"2 cores shared with wrk, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average (1 min) {load_before} before, "
         f"{load_after} after. Median of {runs} run(s) [min..max].", "",
         "| test | FastAPI rps | ishop rps | ishop / FastAPI | FastAPI p99 | ishop p99 | non-2xx (both) |",
         "|---|---:|---:|---:|---:|---:|---:|"]
ratios, p99_lower = [], True
for mode, name in tests + [("floor", "GET /healthz (no work: each server's floor)")]:
    key = f"RESULT {mode}"
    p_rps, o_rps = med(peer, key, "rps"), med(ours, key, "rps")
    p_p99, o_p99 = med(peer, key, "p99_ms"), med(ours, key, "p99_ms")
    non2xx = sum(row.get("non2xx", 0) for rows in (peer, ours) for row in rows.get(key, []))
    ratio = o_rps[0] / p_rps[0]
    if mode in judged:
        ratios.append(ratio)
        p99_lower &= o_p99[0] < p_p99[0]
    lines.append(f"| {name} | {cell(p_rps)} | {cell(o_rps)} | {ratio:.2f} | {p_p99[0]:.0f} ms | {o_p99[0]:.0f} ms | {non2xx:.0f} |")
def mib(rows, key, field):
    return med(rows, key, field)[0] / 1024
peak_ours = max(mib(ours, f"RSS {m}", "peak_sum_rss_kb") for m, _ in tests)
peak_peer = max(mib(peer, f"RSS {m}", "peak_sum_rss_kb") for m, _ in tests)
ready_peer, ready_ours = med(peer, "READY", "ms"), med(ours, "READY", "ms")
lines += ["", "| | FastAPI (2 workers) | ishop |", "|---|---:|---:|",
          f"| cold start to first 200 on /healthz | {cell(ready_peer)} ms | {cell(ready_ours)} ms |",
          f"| RSS idle | {mib(peer, 'RSS_IDLE', 'peak_sum_rss_kb'):.0f} MiB | {mib(ours, 'RSS_IDLE', 'peak_sum_rss_kb'):.0f} MiB |",
          f"| peak RSS under load | {peak_peer:.0f} MiB | {peak_ours:.0f} MiB |", "",
          "Issue 6's targets, this run:", ""]
def met(ok): return "**met**" if ok else "**not met**"
floor_ours = med(ours, "RESULT floor", "rps")[0]
ceilings = [floor_ours / med(peer, f"RESULT {m}", "rps")[0] for m in judged]
lines += [f"- at least 3 times the peer's requests per second in products, stock and the cart with room in its lines: {', '.join(f'{r:.2f}x' for r in ratios)} {met(min(ratios) >= 3)}"
          f" (ishop's floor, answering /healthz and nothing else, is {', '.join(f'{c:.2f}x' for c in ceilings)} the peer's rate in those tests:"
          f" no test can be faster than that on this machine);",
          f"- lower p99 than the peer in each test: {met(p99_lower)};",
          f"- peak RSS under load below 100 MiB: {peak_ours:.0f} MiB {met(peak_ours < 100)};",
          f"- cold start to the first 200 on /healthz under 300 ms: {ready_ours[0]:.0f} ms {met(ready_ours[0] < 300)}."]
print("\n".join(lines))
PY2
)
echo
echo "$table"
if [ "${DOC:-1}" != 0 ]; then
  printf '%s\n' "$table" | write_doc_table runtime "Runtime against the FastAPI peer"
fi
