#!/usr/bin/env python3
"""Read a cxrshard output folder the way the README says, and check it against references.

    python tests/python/check_output.py --data DATASET --out OUTPUT [--recompute 3]

* manifest: every shard exists with the recorded size and sha256; rows + rejected == inputs;
  row counts match the annotation JSON.
* every shard opened with pyarrow: Parquet tensors via np.frombuffer(...).reshape (no copy),
  Arrow IPC tensors as FixedShapeTensorArray.to_numpy_ndarray(); shapes and dtypes as the
  manifest says; masks are 0/1 and non-empty exactly where a polygon exists.
* --recompute N: the first N rows of each split are recomputed independently with pydicom
  (apply_modality_lut -> apply_voi_lut -> MONOCHROME1 inversion -> x255; PNGs: OpenCV's imread)
  and OpenCV (resize INTER_AREA, fillPoly on rint-scaled vertices); images and masks identical
  (the `area` filter is OpenCV's INTER_AREA exactly; --image-tol relaxes the image check).
Exit status 0 only if every check passes.
"""
import argparse
import hashlib
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from checks import check, finish


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_table(path, fmt):
    if fmt == "parquet":
        return pq.read_table(path)
    with pa.memory_map(path) as src:
        return ipc.open_file(src).read_all()


def tensors(table, man, fmt):
    """image [n,H,W] and mask [n,C,H,W] as NumPy arrays, the way the README shows."""
    n = table.num_rows
    if fmt == "parquet":
        img_col = table["image"].combine_chunks()
        mask_col = table["mask"].combine_chunks()
        md = table.schema.field("image").metadata
        check(json.loads(md[b"cxrshard.shape"]) == man["image"]["shape"], "image field metadata shape")
        check(md[b"cxrshard.dtype"].decode() == man["image"]["dtype"], "image field metadata dtype")
        images = np.frombuffer(img_col.buffers()[1], dtype=man["image"]["dtype"]).reshape(n, *man["image"]["shape"])
        masks = np.frombuffer(mask_col.buffers()[1], dtype=np.uint8).reshape(n, *man["mask"]["shape"])
    else:
        img_col = table["image"].combine_chunks()
        mask_col = table["mask"].combine_chunks()
        check(isinstance(img_col.type, pa.FixedShapeTensorType), f"image type {img_col.type}")
        check(isinstance(mask_col.type, pa.FixedShapeTensorType), f"mask type {mask_col.type}")
        images = img_col.to_numpy_ndarray()
        masks = mask_col.to_numpy_ndarray()
    check(images.dtype == np.dtype(man["image"]["dtype"]), f"image dtype {images.dtype}")
    check(images.shape == (n, *man["image"]["shape"]), f"image shape {images.shape}")
    check(masks.dtype == np.uint8 and masks.shape == (n, *man["mask"]["shape"]), f"mask {masks.dtype} {masks.shape}")
    return images, masks


def annotation_rows(data, split):
    with open(os.path.join(data, split["annotations"])) as f:
        ann = json.load(f)
    keys = sorted(ann["img"], key=int)
    return ann, keys


def reference_row(data, source, polys, size, labels):
    import cv2
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if source.lower().endswith(".png"):
        # The public release: display-ready 8-bit PNGs, read by OpenCV (libpng) as the authors'
        # loader does; pixels pass through to the resize.
        img = cv2.imread(os.path.join(data, source), cv2.IMREAD_UNCHANGED)
        check(img is not None and img.dtype == np.uint8 and img.ndim == 2, f"{source}: OpenCV reads 8-bit grey")
        return resized_with_masks(img, polys, size, labels)
    ds = pydicom.dcmread(os.path.join(data, source))
    mod = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    voi = apply_voi_lut(mod, ds).astype(np.float64)
    # pydicom's LINEAR output spans [y_min, y_max] of the stored range; map it to 0..1 the
    # way PS3.3 C.11.2.1.2 defines the window, and check that both agree.
    if "WindowCenter" in ds:
        wc, ww = float(np.atleast_1d(ds.WindowCenter)[0]), float(np.atleast_1d(ds.WindowWidth)[0])
        v = np.clip((mod - (wc - 0.5)) / (ww - 1) + 0.5, 0, 1)
        v[mod <= wc - 0.5 - (ww - 1) / 2] = 0
        v[mod > wc - 0.5 + (ww - 1) / 2] = 1
    else:  # no window: cxrshard's documented fallback is the image's modality min..max
        v = (mod - mod.min()) / max(mod.max() - mod.min(), 1e-12)
    a = (voi - voi.min()) / max(voi.max() - voi.min(), 1e-12)
    vv = (v - v.min()) / max(v.max() - v.min(), 1e-12)
    check(np.abs(a - vv).max() < 1e-6, f"{source}: pydicom apply_voi_lut disagrees with PS3.3 LINEAR")
    if ds.PhotometricInterpretation == "MONOCHROME1":
        v = 1 - v
    return resized_with_masks(np.rint(v * 255).astype(np.uint8), polys, size, labels)


def resized_with_masks(img, polys, size, labels):
    """OpenCV's INTER_AREA resize of the display image, and the labels' polygons filled."""
    import cv2

    h, w = img.shape
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    mask = np.zeros((len(labels), size[0], size[1]), np.uint8)
    for c, label in enumerate(labels):
        poly = polys[label]
        if isinstance(poly, list):
            pts = np.array([[p["x"] * size[1] / w, p["y"] * size[0] / h] for p in poly])
            cv2.fillPoly(mask[c], [np.rint(pts).astype(np.int32)], 1)
    return img, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--recompute", type=int, default=0)
    ap.add_argument("--image-tol", type=int, default=0, help="max grey-level difference after resize")
    ap.add_argument("--min-psnr", type=float, default=40.0, help="min PSNR (dB) against OpenCV INTER_AREA")
    a = ap.parse_args()
    with open(os.path.join(a.out, "manifest.json")) as f:
        man = json.load(f)
    fmt = man["output_format"]
    labels = man["labels"]
    total = 0
    for split in man["splits"]:
        ann, keys = annotation_rows(a.data, split)
        check(split["inputs"] == len(keys), f"{split['name']}: inputs {split['inputs']} != {len(keys)} annotated")
        check(split["rows"] + split["rejected"] == split["inputs"], f"{split['name']}: rows + rejected != inputs")
        rejected = {r["key"] for r in split["rejects"]}
        expect_keys = [k for k in keys if k not in rejected]
        row = 0
        for shard in split["shards"]:
            path = os.path.join(a.out, shard["path"])
            check(os.path.getsize(path) == shard["bytes"], f"{path}: size")
            check(sha256(path) == shard["sha256"], f"{path}: sha256")
            t = load_table(path, fmt)
            check(t.num_rows == shard["rows"], f"{path}: rows {t.num_rows} != {shard['rows']}")
            images, masks = tensors(t, man, fmt)
            ids = t["image_id"].to_pylist()
            sources = t["source"].to_pylist()
            for i in range(t.num_rows):
                k = expect_keys[row]
                rel = ann["img"][k]
                check(ids[i] == os.path.splitext(os.path.basename(rel))[0], f"{path} row {i}: id {ids[i]} vs {rel}")
                check(set(np.unique(masks[i]).tolist()) <= {0, 1}, f"{path} row {i}: mask not 0/1")
                for c, label in enumerate(labels):
                    has = isinstance(ann[label][k], list)
                    check(bool(masks[i, c].any()) == has, f"{path} row {i} {label}: polygon {has}, mask area {masks[i, c].sum()}")
                if row < a.recompute:
                    ref_img, ref_mask = reference_row(a.data, sources[i], {l: ann[l][k] for l in labels}, man["image"]["shape"], labels)
                    d = np.abs(ref_img.astype(np.int16) - images[i].astype(np.int16))
                    mse = float((d.astype(np.float64) ** 2).mean())
                    psnr = 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
                    check(int(d.max()) <= a.image_tol and psnr >= a.min_psnr,
                          f"{path} row {i}: image vs pydicom+OpenCV: max |diff| {d.max()} (tol {a.image_tol}), PSNR {psnr:.1f} dB (min {a.min_psnr})")
                    same = (ref_mask == masks[i]).mean()
                    check(same == 1.0, f"{path} row {i}: mask agrees with cv2.fillPoly on {same:.6f} of pixels")
                    print(f"   {split['name']} row {row}: vs pydicom+OpenCV INTER_AREA: max |diff| {d.max()}, PSNR {psnr:.1f} dB; mask agreement with cv2.fillPoly {same:.6f}")
                row += 1
        check(row == split["rows"], f"{split['name']}: read {row} rows, manifest says {split['rows']}")
        total += row
        print(f"{split['name']}: {row} rows in {len(split['shards'])} {fmt} shard(s) read back with pyarrow")
    finish(f"{total} rows checked")


if __name__ == "__main__":
    main()
