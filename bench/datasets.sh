# Sourced by the bench scripts: their default dataset, and datasets of any size made from one
# VinDr-RibCXR-layout dataset.
#
#   default_dataset BIN OUT   (prints the dataset's path)
#
# `BIN synth --n 200` (16-bit DICOMs of 2000-3000 px), generated once into OUT/synth200.
default_dataset() {  # bin, out
  local d="$2/synth200"
  [[ -f "$d/Vindr_RibCXR_val_mask.json" ]] || "$1" -q synth --out "$d" --n 200 >&2
  echo "$d"
}

#   make_dataset BASE N DIR
#
# DIR gets N inputs: the first N entries of BASE's annotation files (80% train, 20% val), and
# for counts above BASE's, copies of its rows under new image names, as symbolic links to its
# files (2,000 inputs need no 25 GB of disk; every input is still read and decoded in full).
# Made once: a finished DIR is marked with `.done`.
make_dataset() {  # base, n, dir
  python3 - "$1" "$2" "$3" <<'PYEOF'
import json, os, sys
base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if os.path.exists(os.path.join(out, ".done")):
    sys.exit(0)
files = [("Vindr_RibCXR_train_mask.json", 0.8), ("Vindr_RibCXR_val_mask.json", 0.2)]
for name, share in files:
    cols = json.load(open(os.path.join(base, name)))
    keys = list(cols["img"].keys())
    want = max(1, round(n * share))
    new = {c: {} for c in cols}
    for i in range(want):
        k = keys[i % len(keys)]
        src = cols["img"][k]
        copy = i // len(keys)
        rel = src if copy == 0 else os.path.join(os.path.dirname(src), f"c{copy}_" + os.path.basename(src))
        dst = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.lexists(dst):
            os.symlink(os.path.abspath(os.path.join(base, src)), dst)
        for c in cols:
            new[c][str(i)] = rel if c == "img" else cols[c][k]
    json.dump(new, open(os.path.join(out, name), "w"))
open(os.path.join(out, ".done"), "w").write("ok")
PYEOF
}
