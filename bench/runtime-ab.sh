#!/usr/bin/env bash
# The runtime of two or more ishop binaries, alternating: GET /api/products/{handle}, GET
# /api/stock and GET /healthz (the floor) with wrk on the Shopify fixtures, each server started
# afresh on its own database. Prints each test's requests per second and products over the floor
# of the same run: on this machine wrk and the server share two cores, so only ratios within one
# run mean anything (bench/runtime.sh compares ishop with the FastAPI peer). Loopback only.
#
#   bench/runtime-ab.sh OLD_BINARY NEW_BINARY [MORE...]     env: ROUNDS=5 DURATION=6 PORT=18600
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
binaries=()
for binary in "$@"; do binaries+=("$(realpath "$binary")"); done
rounds=${ROUNDS:-5} duration=${DURATION:-6} port=${PORT:-18600}
base=http://127.0.0.1:$port
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
work=$(mktemp -d /tmp/ishop-runtime-ab.XXXXXX)
trap 'stop_server; rm -rf "$work"' EXIT
csvs=("$BENCH_REPO"/../shared/fixtures/shopify/*.csv)
csv_args=()
for c in "${csvs[@]}"; do csv_args+=(--csv "$c"); done
cat > "$work/site.yml" <<YAML
title: Bench Shop
currency: EUR
database: ishop.sqlite
environments:
  bench:
    host: 127.0.0.1
    port: $port
    serveStatic: false
    bcryptCost: 10
    rateLimits:
      authPerIP: {perMinute: 100000, burst: 100000}
      authPerAccount: {perMinute: 100000, burst: 100000}
YAML
rps() { sed -n 's/^RESULT mode=[a-z_]* .*rps=\([0-9.]*\).*/\1/p'; }
for ((round = 1; round <= rounds; round++)); do
  for binary in "${binaries[@]}"; do
    rm -f "$work"/ishop.sqlite*
    "$binary" import shopify --config "$work/site.yml" --env bench "${csvs[@]}" >/dev/null
    start_server "$work/server.log" "$base/healthz" env ISHOP_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 \
      "$binary" serve --config "$work/site.yml" --env bench --log-level warning >/dev/null
    python3 "$BENCH_LOAD/prepare.py" --base "$base" "${csv_args[@]}" --out "$work/data" >/dev/null 2>&1
    declare -A rate=()
    for mode in products stock; do
      WRK_DATA=$work/data WRK_MODE=$mode wrk -t 2 -c 64 -d 2s -s "$BENCH_LOAD/bench.lua" "$base" >/dev/null
      rate[$mode]=$(WRK_DATA=$work/data WRK_MODE=$mode wrk -t 2 -c 64 -d "${duration}s" -s "$BENCH_LOAD/bench.lua" "$base" | rps)
    done
    rate[floor]=$(wrk -t 2 -c 64 -d "${duration}s" -s "$BENCH_REPO/bench/floor.lua" "$base" | rps)
    stop_server
    echo "round $round $binary: products ${rate[products]} stock ${rate[stock]} floor ${rate[floor]} rps;" \
      "products / floor $(ratio "${rate[products]}" "${rate[floor]}")"
  done
done
