#!/usr/bin/env python3
"""Read one dataset written twice (Parquet tensor layouts "binary" and "nested") with the
consumers people use, and check rows, splits and tensor shapes against the manifest.

    python tests/python/check_consumers.py --binary OUT_A --nested OUT_B

* pyarrow, through examples/torch_dataset.py's RibShards (the PyTorch Dataset's logic; torch
  itself is not installed in CI: its PyPI wheel pulls in CUDA libraries of several GB);
* DuckDB: SELECT split, count(*) over OUTPUT/data/*.parquet, the nested arrays' dims, and every
  flat mask's bytes (equal to pyarrow's);
* Hugging Face datasets.load_dataset(OUTPUT) with no code: the dataset card's splits in order,
  rows per split, `bytes` (binary) or Array2D/Array3D (nested) with the manifest's shapes;
* both layouts hold identical tensors.
Exit status 0 only if every check passes.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from torch_dataset import RibShards  # noqa: E402

from checks import check, finish  # noqa: E402


def manifest(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def pyarrow_rows(out, man):
    """Every split's (images, masks) through the example Dataset."""
    arrays = {}
    for s in man["splits"]:
        ds = RibShards(out, s["name"])
        check(len(ds) == s["rows"], f"{out} {s['name']}: Dataset has {len(ds)} rows, manifest {s['rows']}")
        rows = [ds[i] for i in range(len(ds))]
        for img, mask in rows:
            check(img.shape == tuple(man["image"]["shape"]) and img.dtype == np.dtype(man["image"]["dtype"]),
                  f"{out}: image {img.shape} {img.dtype}")
            check(mask.shape == tuple(man["mask"]["shape"]) and set(np.unique(mask)) <= {0, 1}, f"{out}: mask {mask.shape}")
        arrays[s["name"]] = (np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]))
        print(f"pyarrow: {out} {s['name']}: {len(ds)} rows, image {rows[0][0].shape}, mask {rows[0][1].shape}")
    return arrays


def duckdb_counts(out, man, nested):
    import duckdb

    got = duckdb.sql(f"SELECT split, count(*) FROM '{out}/data/*.parquet' GROUP BY split ORDER BY split").fetchall()
    want = sorted((s["name"], s["rows"]) for s in man["splits"])
    check(got == want, f"duckdb {out}: {got} != {want}")
    print(f"duckdb: SELECT split, count(*) -> {got}")
    if nested:
        C, H, W = man["mask"]["shape"]
        dims = duckdb.sql(f"SELECT DISTINCT len(mask), len(mask[1]), len(mask[1][1]), len(image), len(image[1]) "
                          f"FROM '{out}/data/*.parquet'").fetchall()
        check(dims == [(C, H, W, H, W)], f"duckdb nested dims {dims}")
        print(f"duckdb: nested arrays mask [{C}][{H}][{W}], image [{H}][{W}]")


def duckdb_masks(out, man, arrays):
    """DuckDB decodes every flat mask page (cxrshard compresses masks from their runs) to the
    bytes pyarrow gives."""
    import duckdb

    for s in man["splits"]:
        files = sorted(os.path.join(out, sh["path"]) for sh in s["shards"])
        got = duckdb.sql(f"SELECT mask FROM read_parquet({files!r}, filename=true, file_row_number=true) "
                         f"ORDER BY filename, file_row_number").fetchall()
        masks = arrays[s["name"]][1]
        same = len(got) == len(masks) and all(bytes(g[0]) == m.tobytes() for g, m in zip(got, masks))
        check(same, f"duckdb {out} {s['name']}: mask bytes differ from pyarrow's")
        print(f"duckdb: {out} {s['name']}: {len(got)} masks, the same bytes as pyarrow's")


def hf_datasets(out, man, arrays, nested, cache):
    import datasets

    datasets.disable_progress_bars()
    dd = datasets.load_dataset(out, cache_dir=cache)
    names = [s["name"] for s in man["splits"]]
    check(list(dd.keys()) == names, f"datasets {out}: splits {list(dd.keys())} != {names}")
    H, W = man["image"]["shape"]
    for s in man["splits"]:
        d = dd[s["name"]]
        check(d.num_rows == s["rows"], f"datasets {out} {s['name']}: {d.num_rows} rows != {s['rows']}")
        images, masks = arrays[s["name"]]
        if nested:
            check(isinstance(d.features["image"], datasets.Array2D), f"image feature {d.features['image']}")
            check(isinstance(d.features["mask"], datasets.Array3D), f"mask feature {d.features['mask']}")
            n = d.with_format("numpy", dtype=np.uint8)
            img, mask = n[:]["image"], n[:]["mask"]
        else:
            check(d.features["image"] == datasets.Value("binary"), f"image feature {d.features['image']}")
            img = np.stack([np.frombuffer(b, man["image"]["dtype"]).reshape(H, W) for b in d["image"]])
            mask = np.stack([np.frombuffer(b, np.uint8).reshape(man["mask"]["shape"]) for b in d["mask"]])
        check(img.shape == images.shape and np.array_equal(img, images), f"datasets {out} {s['name']}: images differ")
        check(mask.shape == masks.shape and np.array_equal(mask, masks), f"datasets {out} {s['name']}: masks differ")
        print(f"datasets: {out} {s['name']}: {d.num_rows} rows, {d.features['image']}, tensors equal pyarrow's")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--nested", required=True)
    ap.add_argument("--cache", required=True, help="datasets cache folder")
    a = ap.parse_args()
    results = {}
    for out, nested in [(a.binary, False), (a.nested, True)]:
        man = manifest(out)
        arrays = pyarrow_rows(out, man)
        duckdb_counts(out, man, nested)
        if not nested:
            duckdb_masks(out, man, arrays)
        hf_datasets(out, man, arrays, nested, os.path.join(a.cache, os.path.basename(out)))
        results[nested] = arrays
    for name, (img, mask) in results[False].items():
        img2, mask2 = results[True][name]
        check(np.array_equal(img, img2) and np.array_equal(mask, mask2), f"{name}: binary and nested layouts differ")
    finish("consumer checks")


if __name__ == "__main__":
    main()
