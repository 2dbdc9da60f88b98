#!/usr/bin/env bash
# How cxrshard's cost grows: images/s and peak RSS for 50 / 200 / 800 / 2,000 images, 1 vs 2
# workers, and 512² vs 1024² output, on one machine, in one run.
#
#   bash bench/scaling.sh [--data DIR] [--sizes "50 200 800 2000"] [--runs 3]
#
# --data is a VinDr-RibCXR-layout dataset (default: `cxrshard synth --n 200` of 2000-3000 px
# 16-bit DICOMs, generated once into target/bench/synth200). Larger counts than the dataset has
# are made with symbolic links to its images under new names, so 2,000 inputs need no 25 GB of
# disk; every input is still read, decoded and written in full. Prints a table and writes
# target/bench/scaling.json. Medians of --runs runs; wall time includes start-up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/target/bench"
DATA=""
SIZES="50 200 800 2000"
RUNS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/cxrshard"
source "$ROOT/bench/datasets.sh"
[[ -n "$DATA" ]] || DATA="$(default_dataset "$BIN" "$OUT")"

measure() {  # label n dataset extra-args... → one JSON line
  local label="$1" n="$2" data="$3"; shift 3
  local runs=()
  for _ in $(seq 1 "$RUNS"); do
    rm -rf "$OUT/scaling-out"
    local log; log="$(mktemp)"
    /usr/bin/time -f "%e %M" -o "$log" "$BIN" -q run "$ROOT/pipelines/vindr-ribcxr-dicom.toml" \
      --input "$data" --output "$OUT/scaling-out" "$@" > /dev/null
    runs+=("$(cat "$log")"); rm -f "$log"
  done
  printf '%s\n' "${runs[@]}" | python3 -c "
import json, statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
s = statistics.median(r[0] for r in rows)
print(json.dumps({'case': '$label', 'images': $n, 'seconds': s, 'images_per_s': $n / s,
                  'peak_rss_mb': max(r[1] for r in rows) / 1024}))"
}

results="$OUT/scaling.jsonl"
: > "$results"
cat "$DATA"/data/*/img/* > /dev/null  # warm page cache
for n in $SIZES; do
  d="$OUT/scaling-n$n"
  make_dataset "$DATA" "$n" "$d"
  measure "2 workers, 512²" "$n" "$d" --set run.workers=2 | tee -a "$results"
done
d="$OUT/scaling-n200"
make_dataset "$DATA" 200 "$d"
measure "1 worker, 512²" 200 "$d" --set run.workers=1 | tee -a "$results"
measure "2 workers, 1024²" 200 "$d" --set run.workers=2 --set "image.size=[1024,1024]" | tee -a "$results"

python3 - "$results" "$OUT/scaling.json" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump(rows, open(sys.argv[2], "w"), indent=2)
print(f"\n{'case':<20} {'images':>7} {'seconds':>8} {'images/s':>9} {'peak RSS MB':>12}")
for r in rows:
    print(f"{r['case']:<20} {r['images']:>7} {r['seconds']:>8.2f} {r['images_per_s']:>9.1f} {r['peak_rss_mb']:>12.0f}")
PYEOF
