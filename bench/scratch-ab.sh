#!/usr/bin/env bash
# Builds from scratch of two or more ishop binaries, alternating, on the same generated catalog:
# for comparing a change against the code before it (bench/rebuild-ab.sh does the same for a
# one-product rebuild). Each binary has its own copy of the site and database; before each
# build the old outputs are moved aside, not deleted (deleting a 12,000-file site right before
# makes the next build pay seconds of the file system's time, whichever binary it is), and
# removed at the end. Prints each build's wall, user and system seconds, and each binary's
# median wall time. Writes nothing into the repository.
#
#   bench/scratch-ab.sh OLD_BINARY NEW_BINARY [MORE...]     env: PRODUCTS=10000 ROUNDS=4
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
binaries=()
for binary in "$@"; do binaries+=("$(realpath "$binary")"); done
products=${PRODUCTS:-10000} rounds=${ROUNDS:-4}
work=$(mktemp -d /tmp/ishop-scratch-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$BENCH_REPO/../shared/bench/gen_catalog.py" --products "$products" --seed 11 --out "$work/catalog" >/dev/null
for number in "${!binaries[@]}"; do
  site=$work/site-$number
  mkdir -p "$site/.ishop"
  cp -r "$BENCH_REPO"/{site.yml,content,themes,static} "$site/"
  (cd "$site" && "${binaries[$number]}" import shopify "$work/catalog/products.csv" >/dev/null)
done
mkdir -p "$work/aside"
: > "$work/times"
for ((round = 1; round <= rounds; round++)); do
  for number in "${!binaries[@]}"; do
    site=$work/site-$number
    for folder in public .public.spare; do
      [ -e "$site/$folder" ] && mv "$site/$folder" "$work/aside/$(date +%s%N)"
    done
    sleep 2
    (cd "$site" && /usr/bin/time -f "%e %U %S" -o "$work/time" "${binaries[$number]}" build --no-images >/dev/null 2>&1)
    echo "$number $(cat "$work/time")" | tee -a "$work/times" | sed "s|^$number|${binaries[$number]}: wall, user, system|"
  done
done
echo "a build from scratch, $products products, $rounds rounds, alternating:"
for number in "${!binaries[@]}"; do
  echo "${binaries[$number]}: median $(awk -v n="$number" '$1 == n {print $2}' "$work/times" | median) s"
done
