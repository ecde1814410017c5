#!/usr/bin/env bash
# One-product rebuilds of two or more ishop binaries, alternating, on the same catalog: for
# comparing a change against the code before it, where this machine's swings (up to half between
# spells) hide a difference of 10% in runs taken minutes apart. Each binary gets its own copy of
# the site (its own database: an older binary refuses a database a newer one has migrated), is
# built once from scratch and once more (so the spare exists), then every round changes one
# price through that binary's `ishop import` and times its `ishop build`, binaries in turn.
# Prints each binary's times, sorted, and their median. Writes nothing into the repository.
#
#   bench/rebuild-ab.sh OLD_BINARY NEW_BINARY [MORE...]     env: PRODUCTS=10000 ROUNDS=12
#
# To get an older binary: git stash (or check out the older Sources), swift build -c release
# --product ishop, copy .build/release/ishop aside, and go back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { sed -n '2,13p' "$0"; exit 2; }
cd "$(dirname "$0")/.."
products=${PRODUCTS:-10000}
rounds=${ROUNDS:-12}
bench=../shared/bench
[[ -f $bench/gen_catalog.py ]] || { echo "error: $bench not found (../shared beside the repository)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
binaries=()
for binary in "$@"; do
  [ -x "$binary" ] || { echo "error: $binary is not an executable" >&2; exit 1; }
  binaries+=("$(realpath "$binary")")
done
work=$(mktemp -d /tmp/ishop-rebuild-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 "$bench/gen_catalog.py" --products "$products" --out "$work/catalog" >/dev/null
for number in "${!binaries[@]}"; do
  site=$work/site-$number
  mkdir -p "$site"
  cp -r themes "$site/"
  cp -r "$work/catalog/content" "$site/content"
  cat > "$site/site.yml" <<YML
title: Bench Shop
baseURL: https://shop.example.test/
currency: USD
locale: en_US
database: shop.sqlite
publishDir: public
precompress: false
YML
  "${binaries[$number]}" import shopify "$work/catalog/products.csv" --config "$site/site.yml" >/dev/null
  for _ in 1 2; do (cd "$site" && "${binaries[$number]}" build --no-images --config site.yml >/dev/null); done
done

# The first product's first price, plus $1 cents' worth of change: a new price every time.
reprice() {
  python3 - "$work/catalog/products.csv" "$work/changed.csv" "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
price = rows[0].index("Variant Price")
rows[1][price] = "%.2f" % (float(rows[1][price]) + float(sys.argv[3]) / 100)
csv.writer(open(sys.argv[2], "w", newline="", encoding="utf-8"), lineterminator="\r\n").writerows(rows)
PY
}
change=0
for ((round = 1; round <= rounds; round++)); do
  for number in "${!binaries[@]}"; do
    change=$((change + 1))
    reprice "$change"
    "${binaries[$number]}" import shopify "$work/changed.csv" --config "$work/site-$number/site.yml" >/dev/null
    (cd "$work/site-$number" && /usr/bin/time -f "%e" -o "$work/time" "${binaries[$number]}" build --no-images --config site.yml >/dev/null)
    echo "$number $(cat "$work/time")" >> "$work/times"
  done
done

echo "one product's price changed, $products products, $rounds rounds, alternating:"
for number in "${!binaries[@]}"; do
  times=$(awk -v n="$number" '$1 == n {print $2}' "$work/times" | sort -n)
  median=$(median <<<"$times")
  echo "${binaries[$number]}: $(tr '\n' ' ' <<<"$times")s; median $median s"
done
