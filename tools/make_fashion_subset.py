#!/usr/bin/env python3
"""Makes the Fashion-MNIST subset embedded in Fluxion (src/Fluxion.Datasets/FashionMnist/).

Source: Debian's package `dataset-fashion-mnist` (apt-get install -y dataset-fashion-mnist), which
installs the original IDX files under /usr/share/datasets/fashion-mnist.

Selection (deterministic, class-balanced, no randomness): walk each original file in its own order
and keep an example while its class has fewer than N_PER_CLASS kept examples; the kept examples stay
in their original relative order. Train: 1000 per class (10,000); test: 200 per class (2,000), taken
from the official test split. Written back as IDX files, gzip level 9 with mtime 0 (so the output
bytes are reproducible).

Usage: /usr/bin/python3 tools/make_fashion_subset.py [SRC_DIR] [OUT_DIR]
Plain Python 3 (gzip, struct); no third-party package needed.
"""
import gzip
import os
import struct
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "src", "Fluxion.Datasets", "FashionMnist")
SPLITS = [("train", 1000), ("t10k", 200)]


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    m = struct.unpack(">I", data[:4])[0]
    assert m == magic, f"{path}: magic {m:#x}, expected {magic:#x}"
    ndim = m & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_idx(path, magic, dims, payload):
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header + payload)


def main():
    os.makedirs(OUT, exist_ok=True)
    for prefix, per_class in SPLITS:
        (n, rows, cols), images = read_idx(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"), 0x803)
        (nl,), labels = read_idx(os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"), 0x801)
        assert n == nl == len(labels) and len(images) == n * rows * cols
        counts = [0] * 10
        keep = []
        for i, y in enumerate(labels):
            if counts[y] < per_class:
                counts[y] += 1
                keep.append(i)
        assert counts == [per_class] * 10, counts
        size = rows * cols
        sub_images = b"".join(images[i * size:(i + 1) * size] for i in keep)
        sub_labels = bytes(labels[i] for i in keep)
        write_idx(os.path.join(OUT, f"{prefix}-images-idx3-ubyte.gz"), 0x803, (len(keep), rows, cols), sub_images)
        write_idx(os.path.join(OUT, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, (len(keep),), sub_labels)
        print(f"{prefix}: kept {len(keep)} of {n} ({per_class} per class)")


if __name__ == "__main__":
    main()
