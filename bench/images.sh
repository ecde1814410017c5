#!/usr/bin/env bash
# The image stage against vips thumbnail, cwebp and Hugo 0.111, side by side in one run (issue 5).
#
# usage: bench/images.sh [SCRATCH_DIR]    (from the repository; ../shared beside it)
# env:   RUNS=1        rounds; each round times every side cold on one core, then on two (medians reported)
#        ISHOP_BIN=.build/release/ishop  (copied into SCRATCH_DIR first; nothing is compiled here)
#        HUGO=1        0 leaves Hugo out (the table then says so)
#        QUALITY=1     0 skips the file-size and SSIM/PSNR check against cwebp and vips
#        PHOTOS=../shared/fixtures/photos
# One product per photo, local sources in the site's static/images/products/, five outputs each
# (WebP 320/640/1024/1600 q80 method 4, JPEG fallback 1024 q80) on every side. Cold (no image
# cache, no public/): ishop build on one core (`taskset -c 0`, --jobs 1) and on two (--jobs 2),
# ../shared/bench/img_bench.py (vips, cwebp, cwebp+vips; its 1core and 2par modes) and Hugo 0.111
# (hugo_site.py --images global on the same catalog), wall and CPU time; then ishop warm, and
# bench/image_quality.py (sizes and SSIM/PSNR against cwebp and vips). Logs and per-photo
# quality rows stay in SCRATCH_DIR (default: a new /tmp/ishop-bench-images.XXXXXX). Writes its
# table into docs/benchmarks.md between the images markers, and prints it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd) || { echo "error: ../shared not found beside the repository" >&2; exit 1; }
bench=$shared/bench
RUNS=${RUNS:-1} HUGO=${HUGO:-1} QUALITY=${QUALITY:-1}
photos=$(cd "${PHOTOS:-$shared/fixtures/photos}" && pwd)
if [ $# -ge 1 ]; then scratch=$(mkdir -p "$1" && cd "$1" && pwd); else scratch=$(mktemp -d /tmp/ishop-bench-images.XXXXXX); fi
bin=$(cd "$repo" && realpath "${ISHOP_BIN:-.build/release/ishop}")
[ -x "$bin" ] || { echo "error: $bin is missing (swift build -c release --product ishop)" >&2; exit 1; }

# Tools: Debian packages; Python with numpy and Pillow (the Debian ones if the default python3 lacks them).
need=()
command -v vips >/dev/null || need+=(libvips-tools)
command -v cwebp >/dev/null || need+=(webp)
command -v taskset >/dev/null || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)
[ "$HUGO" = 0 ] || command -v hugo >/dev/null || need+=(hugo)
py=python3
if [ "$QUALITY" != 0 ] && ! python3 -c 'import numpy, PIL.ImageCms, PIL.WebPImagePlugin' 2>/dev/null; then
  need+=(python3-numpy python3-pil); py=/usr/bin/python3
fi
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q "${need[@]}" >/dev/null; }
fi

# Only the folders this script makes are cleared, so a scratch folder can be reused.
rm -rf "$scratch"/{site,catalog,logs,img,hugo,quality}
mkdir -p "$scratch/logs"
cp "$bin" "$scratch/ishop"
ishop=$scratch/ishop
cd "$scratch"
load_before="$(uptime | sed 's/.*load average: //')"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "ishop: $bin ($(stat -c '%y' "$bin" | cut -d. -f1), sha256 $(sha256sum "$bin" | cut -c1-12)), repo at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "vips: $(vips --version); cwebp: $(cwebp -version | head -1); hugo: $(command -v hugo >/dev/null && hugo version | awk '{print $2}' || echo none)"
  echo "load before: $load_before"
} | tee versions.txt

# ---------------------------------------------------------------- the catalog and the site
# One product per photo; the CSV has the columns both ishop's importer and hugo_site.py read.
# ishop takes the Image Src "/images/products/NAME" from the site's static/ folder; hugo_site.py
# takes the file name (--images global copies each photo once to assets/photos).
mkdir -p catalog/content site/static/images/products
list=$(cd "$photos" && ls | grep -iE '\.(jpe?g|png)$' | sort)
count=$(echo "$list" | wc -l)
while read -r name; do cp "$photos/$name" site/static/images/products/; done <<<"$list"
"$py" - "$list" > catalog/products.csv <<'PY'
import csv, os, sys
w = csv.writer(sys.stdout, lineterminator="\r\n")
w.writerow(["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published", "Option1 Name", "Option1 Value",
            "Option2 Value", "Option3 Value", "Variant SKU", "Variant Price", "Variant Compare At Price",
            "Image Src", "Image Position", "Image Alt Text"])
for name in sys.argv[1].split("\n"):
    handle = os.path.splitext(name)[0].lower()
    w.writerow([handle, handle.replace("-", " ").title(), f"<p>{handle}</p>", "Bench", "Photos", "bench", "true",
                "Title", "Default Title", "", "", "BENCH-" + handle, "10.00", "", "/images/products/" + name, "1", handle])
PY
cp -r "$repo/themes" site/
cat > site/site.yml <<YML
title: Image Bench
baseURL: https://shop.example.test/
currency: USD
database: shop.sqlite
images:
  widths: [320, 640, 1024, 1600]
  fallbackWidth: 1024
  quality: 80
  method: 4
  cacheDir: .ishop/images
YML
"$ishop" import shopify catalog/products.csv --config site/site.yml >/dev/null
src_mb=$(du -cb site/static/images/products/* | tail -1 | awk '{printf "%.1f", $1 / 1e6}')
src_mp=$(for f in site/static/images/products/*; do vipsheader -f width "$f"; vipsheader -f height "$f"; done | paste - - | awk '{s += $1 * $2} END {printf "%.0f", s / 1e6}')
echo "$count photos, $src_mb MB, $src_mp megapixels"

col() { awk -v c="$2" '{print $c}' "$1" | median; }  # FILE N: median of column N
# From a /usr/bin/time -v file: wall seconds, peak RSS (KiB), CPU seconds (user + system, children included).
tv_wall() { awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
tv_rss() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }
tv_cpu() { awk -F': ' '/User time \(seconds\)/{u=$2} /System time \(seconds\)/{s=$2} END {print u + s}' "$1"; }

# ishop_build LABEL CORES ARGS...: one build in site/ -> "wall_s rss_kb cpu_s images_ms made cached failed"
ishop_build() {
  local label=$1 cores=$2; shift 2
  local pin=()
  [ "$cores" = 1 ] && pin=(taskset -c 0)
  (cd site && /usr/bin/time -v -o "../logs/$label.time" "${pin[@]}" "$ishop" build --log-level debug "$@" \
      > "../logs/$label.out" 2> "../logs/$label.err") || { tail -20 "logs/$label.err" >&2; return 1; }
  local ms summary
  ms=$(grep -o 'ms=[0-9]* stage=images' "logs/$label.err" | grep -o '[0-9]*' | head -1)
  summary=$(grep -o 'Images: [0-9]* made, [0-9]* from the cache, [0-9]* failed' "logs/$label.out" | grep -o '[0-9]*' | paste -sd' ')
  echo "$(tv_wall "logs/$label.time") $(tv_rss "logs/$label.time") $(tv_cpu "logs/$label.time") ${ms:-?} ${summary:-? ? ?}"
}
# tools_run TOOL MODE LABEL: img_bench.py, one tool, one mode, one run -> "wall_ms_per_photo cpu_s"
tools_run() {
  local tool=$1 mode=$2 label=$3
  /usr/bin/time -v -o "logs/$label.time" "$py" "$bench/img_bench.py" --work img --photos "$photos" --runs 1 \
    --tools "$tool" --modes "$mode" --out "logs/$label.csv" > "logs/$label.log" 2>&1 || { tail "logs/$label.log" >&2; return 1; }
  echo "$(awk -F, 'NR == 2 {print $10}' "logs/$label.csv") $(tv_cpu "logs/$label.time")"
}
# hugo_run LABEL CORES: one Hugo build -> "wall_s rss_kb cpu_s rc"
hugo_run() {
  local label=$1 cores=$2 pin=() rc=0
  [ "$cores" = 1 ] && pin=(taskset -c 0)
  (cd hugo && /usr/bin/time -v -o "../logs/$label.time" "${pin[@]}" timeout 600 hugo --quiet --cacheDir "$scratch/hugo/cache" \
      > "../logs/$label.log" 2>&1) || rc=$?
  echo "$(tv_wall "logs/$label.time") $(tv_rss "logs/$label.time") $(tv_cpu "logs/$label.time") $rc"
}

# img_bench.py counts megapixels (two vipsheader calls per photo) before it times anything: its
# CPU time, measured once here, is taken off the tools' CPU time.
/usr/bin/time -v -o logs/img-overhead.time "$py" -c '
import os, sys
sys.path.insert(0, sys.argv[1])
import img_bench
d = sys.argv[2]
img_bench.megapixels(sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg", ".png"))))
' "$bench" "$photos"
img_overhead=$(tv_cpu logs/img-overhead.time)
[ "$HUGO" = 0 ] || "$py" "$bench/hugo_site.py" --catalog catalog --site hugo --images global --photos "$photos" | tee logs/hugo_site.log

# ---------------------------------------------------------------- cold, interleaved
# Each round runs every side on one core, then every side on two, so a change in the machine's
# load between rounds falls on all of them alike.
tools=(vips cwebp cwebp+vips)
rm -f logs/*.rows
for r in $(seq 1 "$RUNS"); do
  for cores in 1 2; do
    mode=2par; [ "$cores" = 1 ] && mode=1core
    rm -rf site/.ishop site/public site/.public.spare
    row=$(ishop_build "ishop-cold-$cores-$r" "$cores" --jobs "$cores")
    echo "round $r, $cores core(s): ishop cold: wall_s rss_kb cpu_s images_ms made cached failed = $row"
    echo "$row" >> "logs/ishop-cold-$cores.rows"
    for tool in "${tools[@]}"; do
      t=${tool/+/_}
      row=$(tools_run "$tool" "$mode" "img-$t-$cores-$r")
      echo "round $r, $cores core(s): $tool ($mode): ms_per_photo cpu_s = $row"
      echo "$row" >> "logs/img-$t-$cores.rows"
    done
    if [ "$HUGO" != 0 ]; then
      rm -rf hugo/public hugo/resources/_gen hugo/cache
      row=$(hugo_run "hugo-cold-$cores-$r" "$cores")
      echo "round $r, $cores core(s): hugo cold: wall_s rss_kb cpu_s rc = $row"
      echo "$row" >> "logs/hugo-cold-$cores.rows"
    fi
  done
done

# ---------------------------------------------------------------- warm
# On two cores, after the last cold build: (a) public/ kept: a rebuild with nothing changed;
# (b) public/ removed (and its spare), the image cache kept: every page rendered again.
for kind in kept removed; do
  for r in $(seq 1 "$RUNS"); do
    [ "$kind" = removed ] && rm -rf site/public site/.public.spare
    row=$(ishop_build "ishop-warm-$kind-$r" 2)
    echo "ishop warm, public/ $kind, run $r: wall_s rss_kb cpu_s images_ms made cached failed = $row"
    echo "$row" >> "logs/ishop-warm-$kind.rows"
  done
done
outputs=$(ls site/.ishop/images/files | wc -l)
warm_path="reads and hashes every source (this binary predates the size/mtime/inode memo)"
[ -e site/.ishop/images/local-sources.json ] && warm_path="stats every source (size, mtime, inode) instead of reading it"
if [ "$HUGO" != 0 ]; then
  hugo_outputs=$(find hugo/resources/_gen/images -type f 2>/dev/null | wc -l)
  hugo_failed=$(cat logs/hugo-cold-*.rows | awk '$4 != 0' | wc -l)
  rm -rf hugo/public
  row=$(hugo_run hugo-warm 2)
  echo "hugo warm (resources/_gen kept, public/ removed): wall_s rss_kb cpu_s rc = $row"
  hugo_warm=$(echo "$row" | awk '{print $1}')
fi
load_after="$(uptime | sed 's/.*load average: //')"
echo "load after: $load_after" | tee -a versions.txt

# ---------------------------------------------------------------- quality
if [ "$QUALITY" != 0 ]; then
  mkdir -p quality
  "$py" "$repo/bench/image_quality.py" --cache site/.ishop/images --work quality --out quality/quality.csv \
    --summary quality/summary.json --quality 80 --method 4 > logs/quality.log
fi

# ---------------------------------------------------------------- the table
per_photo() { awk -v s="$1" -v n="$count" 'BEGIN {printf "%.0f", s * 1000 / n}'; }  # seconds -> ms per photo
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
met() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {if (v == "" || v == "–") print "not measured"; else if ((dir == "ge" && v >= t) || (dir == "lt" && v < t)) print "**met**"; else print "**not met**"}'; }
declare -A W C   # [side,cores]: wall and CPU ms per photo
for c in 1 2; do
  W[stage,$c]=$(per_photo "$(awk '{print $4 / 1000}' "logs/ishop-cold-$c.rows" | median)")
  W[ishop,$c]=$(per_photo "$(col "logs/ishop-cold-$c.rows" 1)")
  C[ishop,$c]=$(per_photo "$(col "logs/ishop-cold-$c.rows" 3)")
  rss[$c]=$(col "logs/ishop-cold-$c.rows" 2)
  for tool in "${tools[@]}"; do
    t=${tool/+/_}
    W[$t,$c]=$(awk '{printf "%.0f\n", $1}' "logs/img-$t-$c.rows" | median)
    C[$t,$c]=$(per_photo "$(awk -v o="$img_overhead" '{print $2 - o}' "logs/img-$t-$c.rows" | median)")
  done
  if [ "$HUGO" != 0 ]; then
    W[hugo,$c]=$(per_photo "$(col "logs/hugo-cold-$c.rows" 1)")
    C[hugo,$c]=$(per_photo "$(col "logs/hugo-cold-$c.rows" 3)")
    hrss[$c]=$(col "logs/hugo-cold-$c.rows" 2)
  fi
done
made_cold=$(awk '{print $5 "/" $6 "/" $7}' "logs/ishop-cold-1.rows" | tail -1)
tool_row() {  # LABEL KEY: a tools row, wall against ishop's image stage, CPU against ishop's whole build
  echo "| $1 | ${W[$2,1]} | ${C[$2,1]} | $(ratio "${W[$2,1]}" "${W[stage,1]}") / $(ratio "${C[$2,1]}" "${C[ishop,1]}") | ${W[$2,2]} | ${C[$2,2]} | $(ratio "${W[$2,2]}" "${W[stage,2]}") / $(ratio "${C[$2,2]}" "${C[ishop,2]}") | |"
}
if [ "$HUGO" != 0 ]; then
  hugo_row="| Hugo 0.111, whole build with images ($hugo_outputs files) | ${W[hugo,1]} | ${C[hugo,1]} | $(ratio "${W[hugo,1]}" "${W[ishop,1]}") / $(ratio "${C[hugo,1]}" "${C[ishop,1]}") | ${W[hugo,2]} | ${C[hugo,2]} | $(ratio "${W[hugo,2]}" "${W[ishop,2]}") / $(ratio "${C[hugo,2]}" "${C[ishop,2]}") | $(mib "${hrss[1]}") / $(mib "${hrss[2]}") MiB |"
  [ "$hugo_failed" = 0 ] || hugo_row="$hugo_row (**$hugo_failed Hugo run(s) failed**, see logs/)"
  hugo_warm_row="| Hugo 0.111, public/ removed, resources/_gen kept | – | $hugo_warm s | – | – |"
  vs_hugo1=$(ratio "${W[hugo,1]}" "${W[ishop,1]}") vs_hugo2=$(ratio "${W[hugo,2]}" "${W[ishop,2]}")
else
  hugo_row="| Hugo 0.111 | left out of this run (HUGO=0) | | | | | | |"
  hugo_warm_row="" vs_hugo1="" vs_hugo2=""
fi
vs_vips1=$(ratio "${W[vips,1]}" "${W[stage,1]}") vs_vips2=$(ratio "${W[vips,2]}" "${W[stage,2]}")
cpu_vips1=$(ratio "${C[vips,1]}" "${C[ishop,1]}") cpu_vips2=$(ratio "${C[vips,2]}" "${C[ishop,2]}")
peak=$(( ${rss[1]} > ${rss[2]} ? ${rss[1]} : ${rss[2]} ))
warm_ms=$(cat logs/ishop-warm-*.rows | awk '{print $4}' | sort -n | tail -1)
warm_made=$(cat logs/ishop-warm-*.rows | awk '{s += $5} END {print s}')
warm_row() {  # KIND LABEL
  local f="logs/ishop-warm-$1.rows"
  echo "| $2 | $(col "$f" 4) ms | $(col "$f" 1) s | $(awk '{print $5 "/" $6 "/" $7}' "$f" | tail -1) | $(mib "$(col "$f" 2)") MiB |"
}

knobs="RUNS=$RUNS"
[ "$HUGO" = 1 ] || knobs="$knobs HUGO=$HUGO"
[ "$QUALITY" = 1 ] || knobs="$knobs QUALITY=$QUALITY"
[ -z "${PHOTOS:-}" ] || knobs="$knobs PHOTOS=$PHOTOS"
table="Command: \`$knobs bench/images.sh${1:+ $1}\`, $(date -u +%Y-%m-%d), $(nproc) cores, shared: load average
$load_before before the run and $load_after after it (other work on the machine inflates wall
times, CPU times much less). ishop: the release binary of $(stat -c '%Y' "$bin" | xargs -I{} date -u -d @{} +%H:%M) UTC.
$(vips --version), cwebp $(cwebp -version | head -1), $(command -v hugo >/dev/null && hugo version | awk '{print "Hugo " $2}' || echo "no Hugo"). $count photos ($src_mb MB, $src_mp megapixels stored), five
outputs each; median of $RUNS round(s), each round running every side on one core, then on two.

| cold, ms per photo | 1 core: wall | CPU | vs ishop: wall / CPU | 2 cores: wall | CPU | vs ishop: wall / CPU | peak memory (1 / 2 cores) |
|---|---:|---:|---:|---:|---:|---:|---:|
| **ishop build, image stage** ($made_cold made/cached/failed) | ${W[stage,1]} | | ref. | ${W[stage,2]} | | ref. | |
| ishop build, whole build | ${W[ishop,1]} | ${C[ishop,1]} | ref. | ${W[ishop,2]} | ${C[ishop,2]} | ref. | $(mib "${rss[1]}") / $(mib "${rss[2]}") MiB |
$(tool_row "\`vips thumbnail\` x5 (img_bench.py vips)" vips)
$(tool_row "\`cwebp\` x4, WebP only (img_bench.py cwebp)" cwebp)
$(tool_row "\`cwebp\` x4 + \`vips thumbnail\` JPEG (img_bench.py cwebp+vips)" cwebp_vips)
$hugo_row

Wall: ishop's image stage is the build's own \`images\` stage time (\`--log-level debug\`), the
tools' is img_bench.py's, the builds' is \`/usr/bin/time -v\`'s. CPU: user + system time of the
whole process tree (\`time -v\`; img_bench.py's megapixel count taken off), which a busy machine
inflates less than wall time; ishop's cannot be split by stage, so the tools' CPU is compared
with ishop's whole build (the pages of $count products cost little). \"vs ishop\" is the other's
time / ishop's: above 1, ishop is faster. 1 core: \`taskset -c 0\`, ishop \`--jobs 1\`,
img_bench.py 1core, Hugo pinned. 2 cores: ishop \`--jobs 2\`, img_bench.py 2par, Hugo unpinned.
Memory is the whole process's peak RSS. ishop wrote $outputs files (a source narrower than 1600 px
gets no 1600 WebP; \`vips thumbnail W\` fits a W x W box, so portrait photos get smaller outputs
from vips).

| warm (two cores) | image stage | whole build | made/cached/failed | peak memory |
|---|---:|---:|---:|---:|
$(warm_row kept "ishop, public/ kept (nothing changed)")
$(warm_row removed "ishop, public/ removed, image cache kept")
$hugo_warm_row

This binary's warm image stage $warm_path."

if [ "$QUALITY" != 0 ]; then
  qrows=$("$py" - quality/summary.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def row(label, k, peer):
    g = s.get(k)
    if not g:
        return
    r, d, p = g["size_ratio"], g["ssim_diff"], g["psnr_diff"]
    print(f"| {label} | {peer} | {g['pairs']} | {r['median']:.3f} ({r['min']:.3f}–{r['max']:.3f}) | "
          f"{g['ours_ssim']['median']:.4f} / {g['peer_ssim']['median']:.4f} | {d['median']:+.4f} ({d['min']:+.4f}) | "
          f"{g['ours_psnr']['median']:.2f} / {g['peer_psnr']['median']:.2f} | {p['median']:+.2f} ({p['min']:+.2f}) |")
for w in (320, 640, 1024, 1600):
    row(f"WebP {w}", f"webp-{w}", "cwebp")
row("**WebP, all**", "webp", "cwebp")
row("JPEG fallback 1024", "jpg", "vips thumbnail")
PY
)
  skipped=$("$py" -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))["skipped"]) or "none")' quality/summary.json)
  table="$table

Quality: each ishop output against the peer's file at the same width, height and quality
(\`cwebp -q 80 -m 4 -resize W H\`; \`vips thumbnail ... [Q=80,strip]\`), both scored against a
reference (Pillow LANCZOS from the full-size original, EXIF-turned, sRGB) by SSIM (luma) and
PSNR (RGB). Size is ishop's bytes / the peer's; score differences are ishop − peer (positive:
ishop closer to the reference). Left out (no peer): $skipped. Per-output rows:
\`quality/quality.csv\` in the scratch folder.

| output | peer | pairs | size / peer's: median (min–max) | SSIM median: ishop / peer | SSIM diff: median (min) | PSNR median: ishop / peer | PSNR diff: median (min) |
|---|---|---:|---:|---:|---:|---:|---:|
$qrows"
fi

table="$table

Issue 5's targets, this run (wall time, as the issue states them; CPU ratio in brackets):

- cold, at least 2x faster than \`vips thumbnail\` at the same parallelism: ${vs_vips1}x on one core (CPU ${cpu_vips1}x) $(met "$vs_vips1" 2 ge), ${vs_vips2}x on two (CPU ${cpu_vips2}x) $(met "$vs_vips2" 2 ge);
- cold, at least 4x faster than Hugo: $([ "$HUGO" = 0 ] && echo "not measured (HUGO=0)" || echo "${vs_hugo1}x on one core (CPU $(ratio "${C[hugo,1]:-}" "${C[ishop,1]}")x) $(met "$vs_hugo1" 4 ge), ${vs_hugo2}x on two (CPU $(ratio "${C[hugo,2]:-}" "${C[ishop,2]}")x) $(met "$vs_hugo2" 4 ge)");
- warm image stage under 100 ms with zero images decoded: at most ${warm_ms} ms, $warm_made made $( [ "$warm_made" = 0 ] && [ "$warm_ms" -lt 100 ] && echo '**met**' || echo '**not met**');
- peak memory of the image stage under 300 MiB: at most $(mib "$peak") MiB (whole process, $count photos) $(met "$(mib "$peak")" 300 lt)."

echo
echo "$table" | tee results.md
printf '%s\n' "$table" | write_doc_table images "Images"
echo "details: $scratch (logs/, quality/quality.csv, results.md)"
