"""Resize parity: `image.filter = "area"` downscaling must equal OpenCV INTER_AREA on every pixel.

Two sets of inputs, each decoded by cxrshard at native size (`decode --size native`) and at
512x512, the native image then resized by `cv2.resize(..., interpolation=cv2.INTER_AREA)`:
- the synthetic CXR DICOMs (`--synth`), through the display chain, as uint8 and uint16;
- random-noise 8- and 16-bit PNGs (the hardest case for rounding) whose sizes take each of
  OpenCV's code paths: integer scales (2x2 with its own rounding, 3x, 4x, 5x, 6x, one axis
  only) and fractional ones.
Fails on any differing pixel.

  python check_resize.py --bin target/release/cxrshard --synth DIR --work DIR
"""
import argparse
import glob
import os
import subprocess
import sys

import cv2
import numpy as np

# (width, height): 2x2, 3x/2x, 4x, 5x/1x, 6x, and fractional scales either side of them.
NOISE_SIZES = [(1024, 1024), (1536, 1024), (2048, 2048), (2560, 512), (3072, 3072),
               (513, 700), (1000, 1000), (600, 3001), (1025, 1023), (2891, 2207)]


def decode(binary, path, out, size, dtype):
    subprocess.run([binary, "-q", "decode", path, "--out", out, "--size", size, "--dtype", dtype], check=True,
                   stdout=subprocess.DEVNULL)
    return np.load(out)


def compare(binary, path, dtype, work):
    native = decode(binary, path, os.path.join(work, "n.npy"), "native", dtype)
    ours = decode(binary, path, os.path.join(work, "r.npy"), "512x512", dtype)
    ref = cv2.resize(native, (512, 512), interpolation=cv2.INTER_AREA)
    diff = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
    print(f"  {os.path.basename(path)} {native.shape[::-1]} -> 512x512 {dtype}: "
          f"{int((diff > 0).sum())} pixels differ, max |diff| {int(diff.max())}")
    return native, int((diff > 0).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n", type=int, default=6)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    files = sorted(glob.glob(os.path.join(a.synth, "data", "*", "img", "*.dcm")))[: a.n]
    if not files:
        sys.exit(f"no DICOMs under {a.synth}")
    differing = 0
    for f in files:
        for dtype in ("uint8", "uint16"):
            differing += compare(a.bin, f, dtype, a.work)[1]
    rng = np.random.default_rng(0)
    for w, h in NOISE_SIZES:
        for dtype in (np.uint8, np.uint16):
            img = rng.integers(0, np.iinfo(dtype).max + 1, size=(h, w), dtype=dtype)
            path = os.path.join(a.work, f"noise-{w}x{h}-{np.dtype(dtype).name}.png")
            cv2.imwrite(path, img)
            native, n = compare(a.bin, path, np.dtype(dtype).name, a.work)
            if not np.array_equal(native, img):
                sys.exit(f"{path}: cxrshard's native decode differs from the PNG's samples")
            differing += n
    print(f"resize vs cv2.INTER_AREA: {differing} differing pixels over {len(files)} CXRs and "
          f"{len(NOISE_SIZES)} noise sizes (must be 0)")
    sys.exit(0 if differing == 0 else 1)


if __name__ == "__main__":
    main()
