"""A PyTorch Dataset over cxrshard Parquet shards, reading with pyarrow.

    python examples/torch_dataset.py OUTPUT_DIR [SPLIT]

One shard is kept in memory at a time (the last one used); a row's tensors are NumPy views
into the shard's Arrow buffers, and torch.from_numpy shares their memory, so the only copy
is the one the DataLoader makes when it stacks a batch. Works with both Parquet tensor
layouts (`binary`, the default, and `nested`); shapes and dtypes come from manifest.json.
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _flat(column):
    """The tensor column's values as one flat NumPy view (combine_chunks copies only when a
    shard has several row groups)."""
    col = column.combine_chunks()
    if pa.types.is_fixed_size_binary(col.type):  # layout "binary": values are buffers()[1]
        return np.frombuffer(col.buffers()[1], np.uint8)
    while pa.types.is_fixed_size_list(col.type):  # layout "nested": [H][W] / [C][H][W]
        col = col.flatten()
    return col.to_numpy(zero_copy_only=True).view(np.uint8)


class RibShards:
    """(image [H, W], mask [C, H, W]) per row of one split, in manifest order."""

    def __init__(self, root, split="train", to_tensor=None):
        with open(os.path.join(root, "manifest.json")) as f:
            man = json.load(f)
        rec = next(s for s in man["splits"] if s["name"] == split)
        self.root, self.shards = root, [(s["path"], s["rows"]) for s in rec["shards"] if s["rows"]]
        self.image_shape, self.image_dtype = tuple(man["image"]["shape"]), np.dtype(man["image"]["dtype"])
        self.mask_shape, self.labels = tuple(man["mask"]["shape"]), man["labels"]
        self.starts = np.cumsum([0] + [n for _, n in self.shards])
        self.to_tensor = to_tensor or (lambda a: a)
        self._cached = (None, None, None)

    def __len__(self):
        return int(self.starts[-1])

    def _shard(self, k):
        if self._cached[0] != k:
            t = pq.read_table(os.path.join(self.root, self.shards[k][0]), columns=["image", "mask"])
            img = _flat(t["image"]).view(self.image_dtype).reshape(-1, *self.image_shape)
            mask = _flat(t["mask"]).reshape(-1, *self.mask_shape)
            self._cached = (k, img, mask)
        return self._cached[1], self._cached[2]

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.starts, i, side="right") - 1)
        img, mask = self._shard(k)
        j = i - int(self.starts[k])
        return self.to_tensor(img[j]), self.to_tensor(mask[j])


def torch_dataset(root, split="train"):
    """The same rows as a torch.utils.data.Dataset of (uint8 tensors)."""
    import torch
    from torch.utils.data import Dataset

    class TorchRibShards(RibShards, Dataset):
        pass

    # from_numpy shares memory; the arrays are read-only views, so copy-on-write is torch's job
    # when a transform writes in place (torch warns, it does not copy silently).
    return TorchRibShards(root, split, to_tensor=lambda a: torch.from_numpy(a))


if __name__ == "__main__":
    root, split = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "train")
    try:
        ds = torch_dataset(root, split)
        from torch.utils.data import DataLoader

        image, mask = next(iter(DataLoader(ds, batch_size=4)))
        print(f"{len(ds)} rows; batch image {tuple(image.shape)} {image.dtype}, mask {tuple(mask.shape)} {mask.dtype}")
    except ImportError:
        ds = RibShards(root, split)
        image, mask = ds[0]
        print(f"{len(ds)} rows (torch not installed); row 0 image {image.shape} {image.dtype}, mask {mask.shape}")
