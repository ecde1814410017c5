# What the bench/*.sh scripts share. Source it: `source "$(dirname "$0")/lib.sh"`.
# Loopback only: the servers these functions start and stop are the calling script's own, by PID.

# The median of the numbers on standard input, one a line (the mean of the middle two for an
# even count).
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit; if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

# a / b to `digits` decimals (default 2), or – when either is missing or b is 0.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {if (a == "" || b == "" || b == 0) print "–"; else printf "%.*f", d, a / b}'; }

# The server a script is measuring: started with `start_server LOG URL COMMAND...` (its output
# to LOG; returns once URL answers 200, per ../shared/bench/load/wait_ready.py, printing that
# tool's line with the time to the first 200), stopped with `stop_server` (also on exit, once
# `trap stop_server EXIT` is set). Call it outside any pipeline (redirect its output instead):
# in a pipeline it would run in a subshell, and server_pid would not reach the script.
server_pid=""
start_server() {
  local log=$1 url=$2 t0; shift 2
  t0=$(date +%s%N)
  "$@" > "$log" 2>&1 &
  server_pid=$!
  python3 "$BENCH_LOAD/wait_ready.py" "$url" "$t0" --timeout 60
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}

# Puts the table on standard input into docs/benchmarks.md between SECTION's markers
# (bench/doc_table.py), under HEADING when the section is new.
write_doc_table() {  # SECTION HEADING
  python3 "$BENCH_REPO/bench/doc_table.py" "$BENCH_REPO/docs/benchmarks.md" "$1" "$2"
}

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_LOAD=$BENCH_REPO/../shared/bench/load
