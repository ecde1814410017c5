#!/usr/bin/env bash
# WebSocket fan-out (issue 7 item 5): ishop serve against the FastAPI peer, same client, same run.
#
# usage: bench/ws.sh SCRATCH_DIR      (from the repository; ../shared beside it)
# env:   CLIENT=swift (bench/wsfanout, built here in release; CLIENT=python: ../shared/bench/load/ws_fanout.py)
#        CLIENTS=1000  UPDATES=50  INTERVAL=0.2   SLOW=20 (the slow-consumer pair of runs; 0 skips it)
#        CONNECTIONS=10000 (the many-connections RSS run; 0 skips it)  CONN_UPDATES=5  HOLD=5
#        CONN_SERVERS="ishop fastapi"  RUNS=3  PORT=18600  SERVERS="floor floor-nio fastapi ishop"
#        ISHOP_BIN=.build/release/ishop  DOC=1 (write the table into docs/benchmarks.md; 0: print only)
# First the client's floor: its latency against a broadcaster that does nothing else, in Python
# (bench/ws_floor.py) and on NIO (bench/wsfanout's wsfloor); then the peer (one uvicorn worker: its
# hub is in-process) and ishop (SQLite, one process), each with CLIENTS clients; then each again
# with and without SLOW clients that never read; then CONNECTIONS idle subscribed connections (RSS).
# Every test starts its server afresh; the tests are interleaved, RUNS rounds, medians reported.
# Only the server processes this script starts are stopped (by PID). Loopback only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || { sed -n '2,16p' "$0"; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
load=$shared/bench/load
peer=$shared/bench/peer_fastapi
scratch=$(mkdir -p "$1" && cd "$1" && pwd)
CLIENT=${CLIENT:-swift} CLIENTS=${CLIENTS:-1000} UPDATES=${UPDATES:-50} INTERVAL=${INTERVAL:-0.2} SLOW=${SLOW:-20}
CONNECTIONS=${CONNECTIONS:-10000} CONN_UPDATES=${CONN_UPDATES:-5} HOLD=${HOLD:-5} CONN_SERVERS=${CONN_SERVERS:-ishop fastapi}
RUNS=${RUNS:-3} PORT=${PORT:-18600} SERVERS=${SERVERS:-floor floor-nio fastapi ishop} DOC=${DOC:-1}
ishop=$(cd "$repo" && realpath -s -m "${ISHOP_BIN:-.build/release/ishop}")
base=http://127.0.0.1:$PORT
admin=admin@example.com:bench-admin-pass
results=$scratch/results
mkdir -p "$results"
rm -f "$results"/*.log   # a summary of this run only
command_line="$(printf '%s ' CLIENT="$CLIENT" CLIENTS="$CLIENTS" UPDATES="$UPDATES" INTERVAL="$INTERVAL" SLOW="$SLOW" \
  CONNECTIONS="$CONNECTIONS" RUNS="$RUNS")bench/ws.sh $1"

if [ ! -x "$scratch/venv/bin/uvicorn" ]; then
  python3 -m venv "$scratch/venv"
  "$scratch/venv/bin/pip" install -q -r "$peer/requirements.txt"
fi
export PATH=$scratch/venv/bin:$PATH
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

wsbin=$repo/bench/wsfanout/.build/release
if [ "$CLIENT" = swift ] || [[ " $SERVERS " == *" floor-nio "* ]]; then
  swift build -c release --package-path "$repo/bench/wsfanout" >&2
fi
case $CLIENT in
  swift) client=("$wsbin/wsfanout") ;;
  python) client=(python3 "$load/ws_fanout.py") ;;
  *) echo "error: CLIENT is swift or python" >&2; exit 2 ;;
esac

csvs=("$shared"/fixtures/shopify/*.csv)
rm -f "$scratch/peer.db" "$scratch/ishop.sqlite"*
python3 "$peer/load_catalog.py" "${csvs[@]}" "$scratch/peer.db" --admin "$admin" >/dev/null
skus=$(python3 - "$scratch/peer.db" <<'PY'
import sqlite3, sys
print(",".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT sku FROM variants ORDER BY id LIMIT 4")))
PY
)

if [[ " $SERVERS $CONN_SERVERS " == *" ishop "* ]]; then
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

trap stop_server EXIT

start() {  # $1 = server name
  local command=()
  case $1 in
    floor) command=(uvicorn --app-dir "$repo/bench" ws_floor:app --host 127.0.0.1 --port "$PORT" --loop uvloop --http httptools
                    --no-access-log) ;;
    floor-nio) command=("$wsbin/wsfloor" --host 127.0.0.1 --port "$PORT") ;;
    # The peer checks the Origin of a WebSocket handshake against PEER_ALLOWED_ORIGINS (default
    # localhost:8000 only: every handshake here would get 403).
    fastapi) command=(env PEER_DB="$scratch/peer.db" PEER_ALLOWED_ORIGINS="$base" uvicorn --app-dir "$peer" app:app --host 127.0.0.1
                      --port "$PORT" --loop uvloop --http httptools --workers 1 --no-access-log) ;;
    ishop) command=(env ISHOP_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 "$ishop" serve --config "$scratch/site.yml"
                    --env bench --log-level warning) ;;
  esac
  start_server "$results/server-$1.log" "$base/healthz" "${command[@]}" >/dev/null
  sleep 1
}

run_one() {  # $1 = label, $2 = server, rest = client arguments; appends to results/LABEL.log
  local label=$1 server=$2 log="$results/$1.log" l1 rest these=$skus; shift 2
  [ "$server" = ishop ] && these=$ishop_skus
  read -r l1 rest < /proc/loadavg
  echo "$label | LOADAVG load1=$l1" | tee -a "$log"
  if ! start "$server"; then
    echo "$label | WARN $server did not start" | tee -a "$log"
    stop_server
    return 0
  fi
  # The Origin of a page of the shop: both servers check it (403 otherwise).
  "${client[@]}" --base "$base" --admin "$admin" --skus "$these" --origin "$base" --pid "$server_pid" "$@" 2>&1 \
    | sed "s/^/$label | /" | tee -a "$log" || true
  stop_server
  read -r l1 rest < /proc/loadavg
  echo "$label | LOADAVG_AFTER load1=$l1" | tee -a "$log"
}

fan=(--clients "$CLIENTS" --updates "$UPDATES" --interval "$INTERVAL")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
  echo "== round $r of $RUNS"
  for server in $SERVERS; do
    run_one "ws-$CLIENTS-$server" "$server" "${fan[@]}"
  done
  if [ "$SLOW" -gt 0 ]; then
    for server in $SERVERS; do
      [[ $server == floor* ]] && continue
      run_one "ws-$CLIENTS-$server-control" "$server" "${fan[@]}"
      run_one "ws-$CLIENTS-$server-slow$SLOW" "$server" "${fan[@]}" --slow "$SLOW"
    done
  fi
  if [ "$CONNECTIONS" -gt 0 ]; then
    for server in $CONN_SERVERS; do
      hold=()
      [ "$CLIENT" = swift ] && hold=(--hold "$HOLD")
      run_one "ws-$CONNECTIONS-$server-idle" "$server" --clients "$CONNECTIONS" --updates "$CONN_UPDATES" --interval 1 \
        --connect-concurrency 200 --drain 30 "${hold[@]}"
    done
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 "$load/summarize.py" "$results"/*.log | tee "$results/summary.txt"

# ---- the table
versions="$( (swift --version 2>/dev/null | head -1 | sed 's/ (swift-.*//') ), $(python3 --version), uvicorn $(python3 -c 'import uvicorn; print(uvicorn.__version__)'), fastapi $(python3 -c 'import fastapi; print(fastapi.__version__)')"
machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u '+%Y-%m-%d %H:%M UTC')"
table=$(python3 - "$results" "$CLIENTS" "$UPDATES" "$INTERVAL" "$SLOW" "$CONNECTIONS" "$CONN_UPDATES" "$RUNS" "$CLIENT" \
  "$SERVERS" "$CONN_SERVERS" "$command_line" "$machine" "$versions" "$load_before" "$load_after" "$ishop" <<'PY'
import glob, os, re, statistics, sys
(results, clients, updates, interval, slow, conns, conn_updates, runs, client, servers, conn_servers, command,
 machine, versions, load_before, load_after, ishop) = sys.argv[1:]
servers, conn_servers = servers.split(), conn_servers.split()
slow, conns = int(slow), int(conns)

def runs_of(label):
    """Per run: {kind: {key: value}}; a run starts at its LOADAVG line."""
    out = []
    path = os.path.join(results, label + ".log")
    if not os.path.exists(path):
        return out
    for line in open(path):
        if " | " not in line:
            continue
        rest = line.rstrip("\n").partition(" | ")[2]
        kind = rest.split()[0] if rest.split() else ""
        if kind == "LOADAVG":
            out.append({})
        if not out:
            continue
        fields = {k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+|nan)\b", rest) if v != "nan"}
        out[-1].setdefault(kind, {}).update(fields)
        if kind == "WARN":
            out[-1].setdefault("warnings", []).append(rest)
    return out

def med(label, kind, key):
    vals = [r[kind][key] for r in runs_of(label) if kind in r and key in r[kind]]
    return statistics.median(vals) if vals else None

def spread(label, kind, key, fmt="{:.1f}"):
    vals = [r[kind][key] for r in runs_of(label) if kind in r and key in r[kind]]
    if not vals:
        return "–"
    m = fmt.format(statistics.median(vals))
    return m if len(vals) == 1 else f"{m} ({fmt.format(min(vals))}–{fmt.format(max(vals))})"

def mib(kb):
    return None if kb is None else kb / 1024

def fmt(x, f="{:.1f}"):
    return "–" if x is None else f.format(x)

def total(label, kind, key):
    return int(sum(r[kind][key] for r in runs_of(label) if kind in r and key in r[kind]))

names = {"floor": "floor: bench/ws_floor.py (Starlette, does nothing else)",
         "floor-nio": "floor: wsfloor (NIO, does nothing else)",
         "fastapi": "FastAPI peer (1 uvicorn worker)", "ishop": "ishop serve"}
clientname = {"swift": "bench/wsfanout (Swift, NIO, all cores)", "python": "../shared/bench/load/ws_fanout.py"}[client]
loads = []
for path in glob.glob(os.path.join(results, "*.log")):
    for line in open(path):
        m = re.search(r"LOADAVG(?:_AFTER)? load1=([\d.]+)", line)
        if m:
            loads.append(float(m.group(1)))
lines = []
lines.append(f"Command: `{command}` (ISHOP_BIN={ishop}), {machine}; client {clientname}; {versions}.")
lines.append(f"Load average (1 min) {load_before.split()[0]} before and {load_after.split()[0]} after the run; "
             f"between tests {min(loads):.2f}–{max(loads):.2f}. Each cell: median of {runs} runs (min–max); "
             "every test starts its server afresh.")
lines.append("")
lines.append(f"{clients} clients, {updates} PATCHes {interval} s apart; latency from just before the PATCH is written "
             "to the message reaching the client's handler.")
lines.append("")
lines.append("| server | p50 | p99 | max | fan-out complete p50 | lost / dup / out of order (all runs) | PATCH p50 | RSS connected | peak RSS |")
lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in servers:
    lab = f"ws-{clients}-{s}"
    if not runs_of(lab):
        continue
    lines.append(f"| {names[s]} | {spread(lab, 'WS_RESULT', 'p50_ms')} ms | {spread(lab, 'WS_RESULT', 'p99_ms')} ms | "
                 f"{spread(lab, 'WS_RESULT', 'max_ms')} ms | {spread(lab, 'WS_RESULT', 'fanout_complete_p50_ms')} ms | "
                 f"{total(lab, 'WS_RESULT', 'lost')} / {total(lab, 'WS_RESULT', 'duplicates')} / {total(lab, 'WS_RESULT', 'out_of_order')} | "
                 f"{spread(lab, 'WS_RESULT', 'patch_p50_ms')} ms | {fmt(mib(med(lab, 'RSS_CONNECTED', 'end_kb')), '{:.0f}')} MiB | "
                 f"{fmt(mib(med(lab, 'RSS_RUN', 'peak_sum_rss_kb')), '{:.0f}')} MiB |")
p99 = {s: med(f"ws-{clients}-{s}", "WS_RESULT", "p99_ms") for s in servers}
verdicts = []
def met(ok):
    return "**met**" if ok else "**not met**"
if p99.get("ishop") is not None:
    verdicts.append(f"- p99 under 20 ms with {clients} clients: ishop {p99['ishop']:.1f} ms {met(p99['ishop'] < 20)}"
                    + (f" (the client's floor: {p99['floor-nio']:.1f} ms against wsfloor" if p99.get('floor-nio') is not None else "")
                    + (f", {p99['floor']:.1f} ms against ws_floor.py" if p99.get('floor') is not None else "")
                    + (")" if p99.get('floor-nio') is not None else "") + ";")
if p99.get("ishop") and p99.get("fastapi"):
    ratio = p99["fastapi"] / p99["ishop"]
    verdicts.append(f"- p99 at least 3 times lower than the peer's: peer/ishop = {p99['fastapi']:.1f} / {p99['ishop']:.1f} = "
                    f"{ratio:.2f}x {met(ratio >= 3)};")

if slow:
    lines.append("")
    lines.append(f"Slow consumers: the same test with and without {slow} extra clients that complete the handshake and "
                 "never read (SO_RCVBUF 4 KiB); p99 of the other clients. A control and a slow run follow each other.")
    lines.append("")
    lines.append("| server | control p99 | p99 with slow clients | slow / control | lost with slow clients (all runs) | slow clients dropped by the server |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for s in servers:
        if s.startswith("floor"):
            continue
        c, w = f"ws-{clients}-{s}-control", f"ws-{clients}-{s}-slow{slow}"
        if not runs_of(c) or not runs_of(w):
            continue
        pc, pw = med(c, "WS_RESULT", "p99_ms"), med(w, "WS_RESULT", "p99_ms")
        ratio = pw / pc if pc and pw else None
        lines.append(f"| {names[s]} | {spread(c, 'WS_RESULT', 'p99_ms')} ms | {spread(w, 'WS_RESULT', 'p99_ms')} ms | "
                     f"{fmt(ratio, '{:.2f}')}x | {total(w, 'WS_RESULT', 'lost')} | {spread(w, 'WS_SLOW', 'dropped_by_server', '{:.0f}')} of {slow} |")
        if ratio is not None:
            verdicts.append(f"- with {slow} clients that never read, the others' p99 within 2x of the run without them: "
                            f"{s} {ratio:.2f}x {met(ratio <= 2)};")

if conns:
    lines.append("")
    lines.append(f"{conns} connections on one instance: each subscribes, all stay open, idle, for a few seconds; "
                 f"RSS is sampled (whole process tree, VmRSS) before the clients, once all are connected, and at its peak "
                 f"over the run, which ends with {conn_updates} PATCHes delivered to every connection.")
    lines.append("")
    lines.append("| server | connected | connect time | RSS before | RSS connected | peak RSS | deliveries / expected (all runs) | p99 of those |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in conn_servers:
        lab = f"ws-{conns}-{s}-idle"
        rr = runs_of(lab)
        if not rr:
            continue
        got = sum(1 for r in rr if "WS_RESULT" in r)
        if got < len(rr):
            note = f" ({len(rr) - got} of {len(rr)} runs gave no result)"
        else:
            note = ""
        lines.append(f"| {names[s]}{note} | {spread(lab, 'WS', 'connected', '{:.0f}')} | {spread(lab, 'WS', 'connect_s')} s | "
                     f"{fmt(mib(med(lab, 'RSS_BEFORE_CLIENTS', 'start_kb')), '{:.0f}')} MiB | "
                     f"{fmt(mib(med(lab, 'RSS_CONNECTED', 'end_kb')), '{:.0f}')} MiB | "
                     f"{fmt(mib(med(lab, 'RSS_RUN', 'peak_sum_rss_kb')), '{:.0f}')} MiB | "
                     f"{total(lab, 'WS_RESULT', 'deliveries')} / {total(lab, 'WS_RESULT', 'expected')} | "
                     f"{spread(lab, 'WS_RESULT', 'p99_ms', '{:.0f}')} ms |")
        if s == "ishop":
            peak = mib(med(lab, "RSS_RUN", "peak_sum_rss_kb"))
            connected = med(lab, "WS", "connected")
            if peak is not None:
                verdicts.append(f"- {conns} concurrent connections on one instance with RSS under 300 MiB: "
                                f"{connected:.0f} connected, peak {peak:.0f} MiB {met(peak < 300 and connected == conns)};")

lines.append("")
lines.append("Issue 7's targets, this run:")
lines.append("")
lines.extend(verdicts)
if lines[-1].endswith(";"):
    lines[-1] = lines[-1][:-1] + "."
print("\n".join(lines))
PY
)
echo
echo "$table" | tee "$results/table.md"
if [ "$DOC" = 1 ]; then
  printf '%s\n' "$table" | write_doc_table ws "Live stock (WebSocket fan-out)"
fi
echo "details: $results (one log per test, summary.txt, table.md)"
