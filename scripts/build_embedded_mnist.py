"""Build genzoo's embedded default dataset `mnist-mini` from the official MNIST files.

Takes the first 10,000 training and the first 2,000 test images (with labels) of official MNIST,
writes them as gzip IDX files (the official format, so the same loader reads both) into
genzoo/data/embedded/, and writes PROVENANCE.md beside them with source md5s and output md5s.

    python scripts/build_embedded_mnist.py --src ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from genzoo.data.catalog import DATASETS
from genzoo.data.idx import read_idx, write_idx

N_TRAIN, N_TEST = 10_000, 2_000
OUT = Path(__file__).resolve().parents[1] / "genzoo" / "data" / "embedded"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="../shared/data/mnist", help="folder with the 4 official MNIST .gz files")
    args = ap.parse_args()
    src = Path(args.src)
    official = {f.name: f.md5 for f in DATASETS["mnist"].files}
    rows = []
    for name, n in [("train-images-idx3-ubyte.gz", N_TRAIN), ("train-labels-idx1-ubyte.gz", N_TRAIN),
                    ("t10k-images-idx3-ubyte.gz", N_TEST), ("t10k-labels-idx1-ubyte.gz", N_TEST)]:
        got = md5(src / name)
        if got != official[name]:
            raise SystemExit(f"{src / name}: md5 {got} is not the official {official[name]}")
        write_idx(OUT / name, read_idx(src / name)[:n])
        rows.append(f"| {name} | {official[name]} | first {n:,} | {md5(OUT / name)} |")
    text = f"""# mnist-mini: provenance

Built by `scripts/build_embedded_mnist.py` from the four official MNIST files (LeCun, Cortes, Burges).
The first {N_TRAIN:,} training images/labels and the first {N_TEST:,} test images/labels, unchanged,
rewritten in the same gzip IDX format (gzip level 9, mtime 0, so the build is byte-reproducible).

| file | official md5 (source) | rows kept | md5 of the file here |
| --- | --- | --- | --- |
{chr(10).join(rows)}

License: MNIST is distributed under CC BY-SA 3.0 (as its hosts state). Cite LeCun et al. 1998.
"""
    (OUT / "PROVENANCE.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
