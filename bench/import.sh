#!/usr/bin/env bash
# Import scale: Shopify CSVs of N products from ../shared/bench/gen_catalog.py, imported by a
# release build of ishop into SQLite and into PostgreSQL (a private cluster on loopback), then
# imported again (nothing changes). Wall time and peak memory per run, from /usr/bin/time.
# Writes its table into docs/benchmarks.md between the import markers, and prints it.
#
#   bench/import.sh                 # sizes 1000 10000 50000
#   SIZES="10000" bench/import.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
sizes=${SIZES:-"1000 10000 50000"}
gen=../shared/bench/gen_catalog.py
[[ -f $gen ]] || { echo "error: $gen not found (../shared beside the repository)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get install -y -q time >/dev/null; }

swift build -c release --product ishop >&2
ishop=$root/.build/release/ishop
work=$(mktemp -d /tmp/ishop-bench-import.XXXXXX)
source scripts/postgres-for-tests
trap 'ishop_pg_stop; rm -rf "$work"' EXIT

measure() {  # prints "seconds peak_MiB" of one command
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  awk '{printf "%.2f %.0f\n", $1, $2/1024}' "$work/time"
}

rows="| products | CSV size | backend | first import | peak memory | import again (no change) |
|---:|---:|---|---:|---:|---:|"
for n in $sizes; do
  python3 "$gen" --products "$n" --out "$work/catalog-$n" >/dev/null
  csv=$work/catalog-$n/products.csv
  size=$(du -m "$csv" | cut -f1)
  mkdir -p "$work/site-$n"
  cp site.yml "$work/site-$n/"
  for backend in sqlite postgres; do
    if [[ $backend == sqlite ]]; then
      db=$work/site-$n/shop-$n.sqlite
    else
      psql -q "$ISHOP_TEST_POSTGRES_URL" -c "CREATE DATABASE bench_$n" >/dev/null
      db=${ISHOP_TEST_POSTGRES_URL%/postgres*}/bench_$n?sslmode=disable
    fi
    read -r first peak < <(measure "$ishop" import shopify "$csv" --config "$work/site-$n/site.yml" --database "$db")
    read -r again _ < <(measure "$ishop" import shopify "$csv" --config "$work/site-$n/site.yml" --database "$db")
    rows+="
| $n | ${size} MB | $backend | ${first} s | ${peak} MiB | ${again} s |"
  done
done

machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%d)"
table="Command: \`bench/import.sh\` (SIZES=\"$sizes\"), release build, $machine.

$rows"
echo "$table"
printf '%s\n' "$table" | write_doc_table import "Import scale"
