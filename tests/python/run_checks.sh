#!/usr/bin/env bash
# Read real cxrshard outputs with the tools users have: pyarrow + NumPy, and recompute rows
# with pydicom + OpenCV. Creates its own venv (default: target/py-venv) and data under target/.
#   bash tests/python/run_checks.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${CXRSHARD_VENV:-$ROOT/target/py-venv}"
WORK="$ROOT/target/py-checks"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/tests/python/requirements.txt"
PY="$VENV/bin/python"

# the debug build `cargo test` just made (dependencies are optimised: see [profile.dev.package."*"])
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bins --example fillpoly
BIN="$ROOT/target/debug/cxrshard"
rm -rf "$WORK" && mkdir -p "$WORK"

echo "-- synthetic DICOM dataset (CXR-sized) and PNG dataset"
"$BIN" synth --out "$WORK/dicom" --n 10 --seed 3
"$BIN" synth --out "$WORK/png" --n 6 --seed 4 --format png --min-side 600 --max-side 900

# the dataset must be readable by pydicom, as a user's archive is
"$PY" - "$WORK/dicom" <<'PYEOF'
import glob, sys, pydicom
files = sorted(glob.glob(sys.argv[1] + "/data/*/img/*.dcm"))
for f in files:
    ds = pydicom.dcmread(f)
    a = ds.pixel_array
    assert a.shape == (ds.Rows, ds.Columns) and a.max() < 2 ** ds.BitsStored and a.std() > 0, f
print(f"pydicom reads all {len(files)} synthetic DICOMs")
PYEOF

echo "-- parquet output"
"$BIN" -q run "$ROOT/pipelines/vindr-ribcxr-dicom.toml" --input "$WORK/dicom" --output "$WORK/out-parquet" --set output.shard_rows=3
"$PY" "$ROOT/tests/python/check_output.py" --data "$WORK/dicom" --out "$WORK/out-parquet" --recompute 4

echo "-- arrow IPC output"
"$BIN" -q run "$ROOT/pipelines/vindr-ribcxr-dicom.toml" --input "$WORK/dicom" --output "$WORK/out-arrow" --set output.format=arrow
"$PY" "$ROOT/tests/python/check_output.py" --data "$WORK/dicom" --out "$WORK/out-arrow" --recompute 2

echo "-- PNG release layout"
"$BIN" -q run "$ROOT/pipelines/vindr-ribcxr.toml" --input "$WORK/png" --output "$WORK/out-png"
"$PY" "$ROOT/tests/python/check_output.py" --data "$WORK/png" --out "$WORK/out-png" --recompute 5

echo "-- the README's NumPy one-liner"
"$PY" - "$WORK/out-parquet" <<'PYEOF'
import json, sys
import numpy as np, pyarrow.parquet as pq
out = sys.argv[1]
man = json.load(open(f"{out}/manifest.json"))
shard = man["splits"][0]["shards"][0]["path"]
t = pq.read_table(f"{out}/{shard}")
C, H, W = man["mask"]["shape"]
images = np.frombuffer(t["image"].combine_chunks().buffers()[1], np.uint8).reshape(-1, H, W)
masks = np.frombuffer(t["mask"].combine_chunks().buffers()[1], np.uint8).reshape(-1, C, H, W)
assert images.shape == (t.num_rows, H, W) and masks.shape == (t.num_rows, C, H, W)
assert not images.flags.owndata, "np.frombuffer must be a view, not a copy"
print("README one-liner:", images.shape, images.dtype, masks.shape, masks.dtype)
PYEOF
echo "-- deployment files (Kubernetes Indexed Job, merge Job)"
"$PY" "$ROOT/tests/python/check_deploy.py"
echo "-- docker-compose.yml (MinIO) against pipelines/minio.toml"
"$PY" "$ROOT/tests/python/check_compose.py" "$ROOT/docker-compose.yml" "$ROOT/pipelines/minio.toml"
echo "-- consumers: examples/ Dataset (pyarrow), DuckDB, Hugging Face datasets; both Parquet tensor layouts"
"$BIN" -q run "$ROOT/pipelines/vindr-ribcxr-dicom.toml" --input "$WORK/dicom" --output "$WORK/out-nested" --set output.shard_rows=3 --set output.tensor_layout=nested
"$PY" "$ROOT/tests/python/check_consumers.py" --binary "$WORK/out-parquet" --nested "$WORK/out-nested" --cache "$WORK/hf-cache"
"$PY" "$ROOT/examples/torch_dataset.py" "$WORK/out-parquet" validation
(cd "$WORK/out-parquet" && "$PY" -c "
import duckdb
con = duckdb.connect()
stmts = [s for s in open('$ROOT/examples/duckdb_query.sql').read().split(';') if s.strip()]
results = [con.execute(s).fetchall() for s in stmts]
assert len(results) == 3 and sum(n for _, n in results[0]) == 10, results[0]
print('examples/duckdb_query.sql:', results[0], '|', len(results[2]), 'labels')
")
echo "-- DICOM parity with pydicom (its own test files; CXR-sized files re-encoded by dcmtk, GDCM and OpenJPH)"
"$PY" -W ignore::UserWarning "$ROOT/tests/python/check_dicom_parity.py" --bin "$BIN" --synth "$WORK/dicom" --work "$WORK/parity"

echo "-- polygon fill parity with cv2.fillPoly"
"$PY" "$ROOT/tests/python/check_fillpoly.py" --driver "$ROOT/target/debug/examples/fillpoly" --n 700

echo "-- resize quality vs cv2.INTER_AREA"
"$PY" "$ROOT/tests/python/check_resize.py" --bin "$BIN" --synth "$WORK/dicom" --work "$WORK/resize"

echo "python checks: all passed"
