#!/usr/bin/env python3
"""Mask encoding, read side: dense bytes (what cxrshard writes) vs bit-packed (np.packbits).

    python bench/mask_encoding.py OUTPUT_DIR [--reps 5]

Takes the Parquet shards of a cxrshard output, writes a bit-packed copy of the mask column
with pyarrow (same zstd level 1, same row groups), and reports for both: file size and the
time for a training job's read, `pq.read_table` plus getting a dense uint8 mask array
(`np.unpackbits` for the packed copy). The write side is `cargo bench --bench stages -- encode`.
"""
import argparse
import glob
import os
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def dense_masks(table, packed, n_bytes):
    buf = np.frombuffer(table["mask"].combine_chunks().buffers()[1], np.uint8)
    return np.unpackbits(buf)[: n_bytes * table.num_rows] if packed else buf


def timed(fn, reps):
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    shards = sorted(glob.glob(os.path.join(args.out, "data", "*.parquet")))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in shards)
    tmp = tempfile.mkdtemp()
    packed_files, n_bytes = [], None
    for f in shards:
        t = pq.read_table(f)
        n_bytes = t.schema.field("mask").type.byte_width
        bits = np.packbits(np.frombuffer(t["mask"].combine_chunks().buffers()[1], np.uint8))
        width = (n_bytes + 7) // 8
        col = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), t.num_rows, [None, pa.py_buffer(bits)])
        t = t.set_column(t.schema.get_field_index("mask"), "mask", col)
        rg = pq.ParquetFile(f).metadata.row_group(0).num_rows
        out = os.path.join(tmp, os.path.basename(f))
        pq.write_table(t, out, compression="zstd", compression_level=1, row_group_size=rg, use_dictionary=False)
        packed_files.append(out)
    size = lambda fs: sum(os.path.getsize(f) for f in fs)
    read = lambda fs, packed: [dense_masks(pq.read_table(f), packed, n_bytes).sum() for f in fs]
    dense_s = timed(lambda: read(shards, False), args.reps)
    packed_s = timed(lambda: read(packed_files, True), args.reps)
    print(f"{rows} rows, mask {n_bytes} bytes per row dense")
    print(f"  dense       {size(shards) / 1e6:8.1f} MB   read + dense array {rows / dense_s:8.1f} rows/s")
    print(f"  bit-packed  {size(packed_files) / 1e6:8.1f} MB   read + unpack      {rows / packed_s:8.1f} rows/s")


if __name__ == "__main__":
    main()
