"""Resize quality: `image.filter = "area"` downscaling to 512x512 against OpenCV INTER_AREA on the
same native-size display image, on synthetic CXRs. Fails below 40 dB PSNR.

  python check_resize.py --bin target/release/cxrshard --synth DIR --work DIR
"""
import argparse
import glob
import os
import subprocess
import sys

import cv2
import numpy as np

MIN_PSNR_DB = 40.0


def decode(binary, path, out, size, dtype):
    subprocess.run([binary, "-q", "decode", path, "--out", out, "--size", size, "--dtype", dtype], check=True,
                   stdout=subprocess.DEVNULL)
    return np.load(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n", type=int, default=6)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    files = sorted(glob.glob(os.path.join(a.synth, "data", "*", "img", "*.dcm")))[: a.n]
    worst = np.inf
    for f in files:
        for dtype, peak in (("uint8", 255.0), ("uint16", 65535.0)):
            native = decode(a.bin, f, os.path.join(a.work, "n.npy"), "native", dtype)
            ours = decode(a.bin, f, os.path.join(a.work, "r.npy"), "512x512", dtype).astype(np.float64)
            ref = cv2.resize(native, (512, 512), interpolation=cv2.INTER_AREA).astype(np.float64)
            mse = np.mean((ours - ref) ** 2)
            psnr = np.inf if mse == 0 else 10 * np.log10(peak**2 / mse)
            worst = min(worst, psnr)
            print(f"  {os.path.basename(f)} {native.shape} -> 512x512 {dtype}: PSNR {psnr:.1f} dB, "
                  f"max |diff| {np.abs(ours - ref).max():.0f}")
    print(f"resize vs cv2.INTER_AREA: worst PSNR {worst:.1f} dB over {len(files)} images (floor {MIN_PSNR_DB})")
    sys.exit(0 if worst >= MIN_PSNR_DB else 1)


if __name__ == "__main__":
    main()
