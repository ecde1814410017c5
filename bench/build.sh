#!/usr/bin/env bash
# Static build speed against Hugo 0.111 on the same catalog, side by side in one run.
# The catalog comes from ../shared/bench/gen_catalog.py; the Hugo site from hugo_site.py
# (pages only: no image processing on either side). Each tool builds from scratch RUNS times;
# the table gives the median wall time, the peak memory and the ratios. Writes its table into
# docs/benchmarks.md between the build markers, and prints it.
#
#   bench/build.sh                      # 10,000 products, 3 runs, then ishop alone on 100,000
#   PRODUCTS=1000 RUNS=5 SCALE=0 bench/build.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
products=${PRODUCTS:-10000}
runs=${RUNS:-3}
scale=${SCALE:-100000}
bench=../shared/bench
[[ -f $bench/gen_catalog.py ]] || { echo "error: $bench not found (../shared beside the repository)" >&2; exit 1; }
command -v hugo >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q hugo >/dev/null
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null

swift build -c release --product ishop >&2
ishop=$root/.build/release/ishop
work=$(mktemp -d /tmp/ishop-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 "$bench/gen_catalog.py" --products "$products" --out "$work/catalog" >/dev/null
python3 "$bench/hugo_site.py" --catalog "$work/catalog" --site "$work/hugo" --images none >/dev/null

# The same catalog and content pages as an ishop site with the default theme.
mkdir -p "$work/ishop"
cp -r themes "$work/ishop/"
cp -r "$work/catalog/content" "$work/ishop/content"
for compress in false true; do
  cat > "$work/ishop/site-$compress.yml" <<YML
title: Bench Shop
baseURL: https://shop.example.test/
currency: USD
locale: en_US
database: shop.sqlite
publishDir: public
precompress: $compress
YML
done
# Hugo's outputs: the Hugo site has no tag pages, feeds or search index (hugo_site.py), so this
# build switches them off (site.yml `outputs`, docs/configuration.md) for the like-for-like row.
cat "$work/ishop/site-false.yml" - > "$work/ishop/site-hugo.yml" <<YML
outputs:
  tagCollections: false
  atomFeed: false
  merchantFeed: false
  searchIndex: false
YML
"$ishop" import shopify "$work/catalog/products.csv" --config "$work/ishop/site-false.yml" >/dev/null

# Outputs of earlier runs are moved aside, not deleted, and deleted at the end: ext4 skips inodes
# freed in the last minute or so when it allocates new ones, so a build right after deleting a
# site of 12,000 files pays seconds of kernel time that belong to the delete (either tool).
mkdir -p "$work/old"
aside() { for path in "$@"; do [[ -e $path ]] && mv "$path" "$work/old/$(date +%s%N)"; done; return 0; }

declare -A wall peak
measure() {  # name, folder, command...: runs the command RUNS times from scratch
  local name=$1 dir=$2; shift 2
  : > "$work/$name.times"
  for ((r = 1; r <= runs; r++)); do
    aside "$dir/public" "$dir/.public.spare" "$dir/resources"
    (cd "$dir" && /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err") || { cat "$work/err" >&2; exit 1; }
    cat "$work/time" >> "$work/$name.times"
  done
  wall[$name]=$(awk '{print $1}' "$work/$name.times" | median)
  peak[$name]=$(awk '{print $2}' "$work/$name.times" | median | awk '{printf "%.0f", $1/1024}')
}

measure hugo "$work/hugo" hugo --quiet
measure ishop_same "$work/ishop" "$ishop" build --no-images --config site-hugo.yml
same_pages=$(find "$work/ishop/public" -name '*.html' | wc -l)

# The file system's floor: the files each tool just wrote, written again from memory by a small
# C program on every core with nothing rendered, then synced (bench/write_floor.c). What it takes
# is what any generator must spend on those files here; Hugo's time over it bounds the ratio any
# tool could show. The trees are synced first (untimed) so the floor's sync is its own files'.
"${CC:-$(command -v cc || command -v clang)}" -O2 -pthread -o "$work/write_floor" bench/write_floor.c
declare -A floor_total floor_write
floor() {  # name, tree: RUNS times, each into a new folder
  local name=$1 tree=$2
  : > "$work/$name.floor"
  for ((r = 1; r <= runs; r++)); do
    sync
    "$work/write_floor" "$tree" "$work/old/floor-$(date +%s%N)" "$(nproc)" >> "$work/$name.floor"
  done
  floor_write[$name]=$(sed 's/.*write=\([0-9.]*\).*/\1/' "$work/$name.floor" | median)
  floor_total[$name]=$(sed 's/.*write=\([0-9.]*\) sync=\([0-9.]*\).*/\1 \2/' "$work/$name.floor" | awk '{printf "%.2f\n", $1 + $2}' | median)
}
floor hugo "$work/hugo/public"
floor ishop_same "$work/ishop/public"
measure ishop "$work/ishop" "$ishop" build --no-images --config site-false.yml
measure ishop_gz "$work/ishop" "$ishop" build --no-images --config site-true.yml
pages=$(find "$work/ishop/public" -name '*.html' | wc -l)

# Incremental. A build keeps the previous site as its spare and brings it up to date, so the
# first change after a build from scratch hard-links the whole tree once (there is no spare
# yet); from then on a rebuild touches only what changed (docs/building.md). Measured: a
# rebuild with nothing changed, that first change, then a change in the steady state.
timed() { (cd "$work/ishop" && /usr/bin/time -f "%e %M" "$ishop" build --no-images --config site-false.yml 2>&1 >/dev/null | tail -1); }
reprice() {  # the first product's first price, plus $1
  python3 - "$work/catalog/products.csv" "$work/changed.csv" "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
price = rows[0].index("Variant Price")
rows[1][price] = "%.2f" % (float(rows[1][price]) + float(sys.argv[3]))
csv.writer(open(sys.argv[2], "w", newline="", encoding="utf-8"), lineterminator="\r\n").writerows(rows)
PY
  "$ishop" import shopify "$work/changed.csv" --config "$work/ishop/site-false.yml" >/dev/null
}
aside "$work/ishop/public" "$work/ishop/.public.spare"
(cd "$work/ishop" && "$ishop" build --no-images --config site-false.yml >/dev/null)
# Rebuilds take a fraction of a second, where this machine's noise is tens of milliseconds: each
# is timed RUNS times (a new price each time for the change) and the medians go in the table.
medians() { awk '{print $1}' "$1" | median; awk '{print $2}' "$1" | median; }
: > "$work/noop.times"
# Each rebuild starts with the file system written out (sync, not timed): what earlier runs of
# this script left dirty (whole trees) is theirs, not the rebuild's. The import a change makes
# just before it stays unsynced, as it would on a shop's machine.
for ((r = 1; r <= runs; r++)); do sync; timed >> "$work/noop.times"; done
{ read -r noop_wall; read -r noop_peak; } < <(medians "$work/noop.times")
sync
reprice 1
read -r relink_wall relink_peak < <(timed)
: > "$work/one.times"
for ((r = 1; r <= runs; r++)); do sync; reprice $((r + 1)); timed >> "$work/one.times"; done
{ read -r one_wall; read -r one_peak; } < <(medians "$work/one.times")
# The same change with precompression on (site.yml's default): each changed page's .gz, and the
# Merchant Center feed's .gz in segments mostly taken from the live one (docs/building.md).
timed_gz() { (cd "$work/ishop" && /usr/bin/time -f "%e %M" "$ishop" build --no-images --config site-true.yml 2>&1 >/dev/null | tail -1); }
for _ in 1 2; do timed_gz >/dev/null; done
: > "$work/one_gz.times"
for ((r = 1; r <= runs; r++)); do sync; reprice $((r + runs + 1)); timed_gz >> "$work/one_gz.times"; done
{ read -r one_gz_wall; read -r one_gz_peak; } < <(medians "$work/one_gz.times")
hugo_pages=$(find "$work/hugo/public" -name '*.html' | wc -l)

machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%d), $(hugo version | awk '{print $1, $2}')"
table="Command: \`bench/build.sh\` (PRODUCTS=$products RUNS=$runs), release build, $machine.
Median of $runs runs of each row but the first change after a build from scratch (one run: it happens once); memory is peak RSS.

| build | HTML pages | wall time | peak memory | Hugo's time / this | this memory / Hugo's |
|---|---:|---:|---:|---:|---:|
| Hugo, pages only | $hugo_pages | ${wall[hugo]} s | ${peak[hugo]} MiB | 1.0 | 1.0 |
| floor: Hugo's files written from memory, nothing rendered, then synced | $hugo_pages | ${floor_total[hugo]} s (write ${floor_write[hugo]} s) | | $(ratio "${wall[hugo]}" "${floor_total[hugo]}" 1) ($(ratio "${wall[hugo]}" "${floor_write[hugo]}" 1) unsynced) | |
| floor: ishop's files for Hugo's outputs, written the same way | $same_pages | ${floor_total[ishop_same]} s (write ${floor_write[ishop_same]} s) | | $(ratio "${wall[hugo]}" "${floor_total[ishop_same]}" 1) ($(ratio "${wall[hugo]}" "${floor_write[ishop_same]}" 1) unsynced) | |
| ishop build, Hugo's outputs (no tag collections, feeds or search index), precompress off | $same_pages | ${wall[ishop_same]} s | ${peak[ishop_same]} MiB | $(ratio "${wall[hugo]}" "${wall[ishop_same]}" 1) | $(ratio "${peak[ishop_same]}" "${peak[hugo]}" 1) |
| ishop build, precompress off | $pages | ${wall[ishop]} s | ${peak[ishop]} MiB | $(ratio "${wall[hugo]}" "${wall[ishop]}" 1) | $(ratio "${peak[ishop]}" "${peak[hugo]}" 1) |
| ishop build, precompress on (.gz beside every text file) | $pages | ${wall[ishop_gz]} s | ${peak[ishop_gz]} MiB | $(ratio "${wall[hugo]}" "${wall[ishop_gz]}" 1) | $(ratio "${peak[ishop_gz]}" "${peak[hugo]}" 1) |
| ishop rebuild, nothing changed | $pages | ${noop_wall} s | $((noop_peak / 1024)) MiB | $(ratio "${wall[hugo]}" "$noop_wall" 1) | |
| ishop rebuild, one product's price changed | $pages | ${one_wall} s | $((one_peak / 1024)) MiB | $(ratio "${wall[hugo]}" "$one_wall" 1) | |
| ishop rebuild, one product's price changed, precompress on | $pages | ${one_gz_wall} s | $((one_gz_peak / 1024)) MiB | $(ratio "${wall[hugo]}" "$one_gz_wall" 1) | |
| ishop first change after a build from scratch (links the whole tree once) | $pages | ${relink_wall} s | $((relink_peak / 1024)) MiB | $(ratio "${wall[hugo]}" "$relink_wall" 1) | |"

# Scale: ishop alone on a catalog SCALE products large, against its own time on PRODUCTS.
if (( scale > 0 )); then
  python3 "$bench/gen_catalog.py" --products "$scale" --out "$work/large" >/dev/null
  mkdir -p "$work/large-site"
  cp -r themes "$work/large-site/"
  cp -r "$work/catalog/content" "$work/large-site/content"
  sed 's/^database: .*/database: large.sqlite/' "$work/ishop/site-false.yml" > "$work/large-site/site.yml"
  "$ishop" import shopify "$work/large/products.csv" --config "$work/large-site/site.yml" >/dev/null
  runs=${SCALE_RUNS:-1} measure large "$work/large-site" "$ishop" build --no-images --config site.yml
  large_pages=$(find "$work/large-site/public" -name '*.html' | wc -l)
  growth=$(awk -v a="${wall[large]}" -v b="${wall[ishop]}" -v n="$scale" -v m="$products" 'BEGIN {printf "%.2f", (a / b) / (n / m)}')
  table="$table

| catalog | HTML pages | wall time | peak memory | time per product against $products products |
|---:|---:|---:|---:|---:|
| $products products | $pages | ${wall[ishop]} s | ${peak[ishop]} MiB | 1.00 |
| $scale products | $large_pages | ${wall[large]} s | ${peak[large]} MiB | $growth |"
fi
echo "$table"
printf '%s\n' "$table" | write_doc_table build "Static build against Hugo"
