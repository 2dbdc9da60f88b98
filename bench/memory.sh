#!/usr/bin/env bash
# Does peak memory grow with the dataset? Alternated runs of cxrshard on datasets of different
# sizes made from one dataset, peak RSS of each (`/usr/bin/time`), medians per size and their
# ratio to the first size's.
#
#   bash bench/memory.sh [--data DIR] [--sizes "200 2000"] [--runs 7] [--bin PATH]
#
# --data as for bench/scaling.sh (default: the synthetic dataset it generates). Sizes are run in
# turn within each round (200, 2000, 200, 2000, ...), so a slow or busy stretch of the machine
# weighs on all of them alike; one run's peak varies by a few MB on a shared VM, hence medians
# of several rounds. 2 workers, the DICOM pipeline's defaults (64-row shards). --bin measures
# another build (e.g. an older commit's) with the same script. Writes target/bench/memory.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/target/bench"
DATA=""
SIZES="200 2000"
RUNS=7
BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
if [[ -z "$BIN" ]]; then
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/cxrshard"
fi
source "$ROOT/bench/datasets.sh"
[[ -n "$DATA" ]] || DATA="$(default_dataset "$BIN" "$OUT")"
for n in $SIZES; do make_dataset "$DATA" "$n" "$OUT/scaling-n$n"; done
cat "$DATA"/data/*/img/* > /dev/null  # warm page cache

runs="$OUT/memory.runs"
: > "$runs"
for r in $(seq 1 "$RUNS"); do
  for n in $SIZES; do
    rm -rf "$OUT/memory-out"
    log="$(mktemp)"
    /usr/bin/time -f "%e %M" -o "$log" "$BIN" -q run "$ROOT/pipelines/vindr-ribcxr-dicom.toml" \
      --input "$OUT/scaling-n$n" --output "$OUT/memory-out" --set run.workers=2 > /dev/null
    echo "$n $(cat "$log")" | tee -a "$runs"
    rm -f "$log"
  done
done
rm -rf "$OUT/memory-out"

python3 - "$runs" "$OUT/memory.json" "$SIZES" <<'PYEOF'
import json, statistics, sys
runs, out, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split()]
rows = [l.split() for l in open(runs) if l.strip()]
res = []
for n in sizes:
    mb = sorted(float(r[2]) / 1024 for r in rows if int(r[0]) == n)
    s = [float(r[1]) for r in rows if int(r[0]) == n]
    res.append({"images": n, "runs": len(mb), "peak_rss_mb_median": statistics.median(mb),
                "peak_rss_mb_min": mb[0], "peak_rss_mb_max": mb[-1], "seconds_median": statistics.median(s)})
base = res[0]["peak_rss_mb_median"]
for r in res:
    r["ratio_to_first"] = r["peak_rss_mb_median"] / base
json.dump(res, open(out, "w"), indent=2)
print(f"\n{'images':>7} {'runs':>5} {'peak RSS MB: median':>20} {'min':>6} {'max':>6} {'vs first':>9}")
for r in res:
    print(f"{r['images']:>7} {r['runs']:>5} {r['peak_rss_mb_median']:>20.1f} {r['peak_rss_mb_min']:>6.1f} "
          f"{r['peak_rss_mb_max']:>6.1f} {100 * (r['ratio_to_first'] - 1):>+8.1f}%")
PYEOF
