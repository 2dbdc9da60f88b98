"""Polygon fill parity: cxrshard's rasteriser (examples/fillpoly.rs) against cv2.fillPoly, pixel by
pixel, over random polygons: convex, concave, self-intersecting, inside, partly/far outside the
image, degenerate (< 3 distinct vertices, axis-aligned), thin rib-like bands.

  python check_fillpoly.py --driver target/release/examples/fillpoly [--n 700] [--seed 1234]

Fails unless every polygon's mask is identical (the issue's floor is 99.9% of pixels).
"""
import argparse
import subprocess
import sys

import cv2
import numpy as np

SIZES = [(64, 48), (512, 512), (64, 48), (512, 512), (7, 5), (1, 1), (300, 17), (17, 300)]


def star(rng, n, cx, cy, rmin, rmax):
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(rmin, rmax, n)
    return np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)


def make_polygon(rng, kind, w, h):
    n = int(rng.integers(3, 61))
    cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
    scale = max(w, h) * rng.uniform(0.05, 1.0)
    if kind == "convex":
        pts = star(rng, n, cx, cy, scale, scale)
    elif kind == "concave":
        pts = star(rng, n, cx, cy, 0.2 * scale, scale)
    elif kind == "selfint":
        pts = np.stack([rng.uniform(-0.3, 1.3, n) * w, rng.uniform(-0.3, 1.3, n) * h], 1)
    elif kind == "inside":
        pts = np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], 1)
    elif kind == "far":
        big = 10 ** int(rng.integers(3, 7))
        pts = rng.uniform(-big, big, (n, 2)) + [w / 2, h / 2]
    elif kind == "degenerate":
        n = int(rng.integers(1, 5))
        pts = rng.uniform(-0.3, 1.3, (n, 2)) * [w, h]
        if rng.random() < 0.5:  # axis-aligned or duplicated vertices
            pts[:, int(rng.integers(0, 2))] = pts[0, int(rng.integers(0, 2))]
    elif kind == "ribs":  # thin elongated bands like rib annotations
        t = np.linspace(0, 1, n // 2 + 2)
        x = cx + (t - 0.5) * scale * 2
        y = cy + 0.3 * scale * np.sin(t * 3)
        th = rng.uniform(1, 8)
        pts = np.concatenate([np.stack([x, y], 1), np.stack([x[::-1], y[::-1] + th], 1)])
    else:
        raise ValueError(kind)
    return np.round(pts).astype(np.int32)


KINDS = ["convex", "concave", "selfint", "inside", "far", "degenerate", "ribs"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--n", type=int, default=700)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    n, seed = a.n, a.seed
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        kind = KINDS[i % len(KINDS)]
        cases.append((kind, w, h, make_polygon(rng, kind, w, h)))
    lines = "".join(
        f"{w} {h} " + " ".join(str(int(v)) for v in pts.ravel()) + "\n" for _, w, h, pts in cases
    )
    out = subprocess.run(
        [a.driver],
        input=lines.encode(), capture_output=True, check=True,
    ).stdout
    off = 0
    total_px = same_px = same_poly = 0
    per_kind = {}
    failures = []
    for idx, (kind, w, h, pts) in enumerate(cases):
        ours = np.frombuffer(out[off:off + w * h], np.uint8).reshape(h, w)
        off += w * h
        ref = np.zeros((h, w), np.uint8)
        cv2.fillPoly(ref, [pts.reshape(-1, 1, 2)], 255)
        eq = int((ours == ref).sum())
        total_px += w * h
        same_px += eq
        ok = eq == w * h
        same_poly += ok
        k = per_kind.setdefault(kind, [0, 0])
        k[0] += ok
        k[1] += 1
        if not ok:
            failures.append((idx, kind, w, h, w * h - eq, pts.tolist()))
    assert off == len(out), (off, len(out))
    print(f"opencv {cv2.__version__}; polygons {n}, seed {seed}")
    for kind, (ok, cnt) in per_kind.items():
        print(f"  {kind:<10} {ok}/{cnt} identical")
    print(f"pixels identical: {same_px}/{total_px} = {same_px / total_px:.9f}")
    print(f"polygons fully identical: {same_poly}/{n}")
    for f in failures[:10]:
        print("MISMATCH", f[:5], str(f[5])[:300])
    sys.exit(0 if same_poly == n else 1)


if __name__ == "__main__":
    main()
