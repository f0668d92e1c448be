"""Speed of the Hub checksums, as ratios against baselines measured in the same run.

* ``table_md5`` (our pandas-version-independent re-implementation of the Hub's table hash) against
  pandas' own ``hash_pandas_object`` on the same table with object strings (what the reference client runs;
  pandas 3's default string dtype hashes differently, which is why we do not call pandas).
* ``zarr_tree_digest`` (one pass: per-file md5 + tree digest) against a plain md5 of every file (the floor: the
  bytes must be read and hashed once anyway).

    python benchmarks/bench_checksum.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from polaris import checksum_rows, checksum_zarr

ROWS = 200_000
QUICK_ROWS = 50_000
ZARR_FILES = 2_000
ZARR_FILE_BYTES = 16 * 1024
REPEATS = 5
QUICK_REPEATS = 3


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _table(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    smiles = np.array([f"C{'C' * (i % 17)}O{i}" for i in range(rows)], dtype=object)
    return pd.DataFrame(
        {
            "smiles": pd.Series(smiles, dtype=object),
            "y": rng.normal(size=rows),
            "n": rng.integers(0, 1_000_000, size=rows),
        }
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rows = QUICK_ROWS if args.quick else ROWS
    repeats = QUICK_REPEATS if args.quick else REPEATS

    table = _table(rows)
    ordered = table[sorted(table.columns)]
    ours = _best(lambda: checksum_rows.table_md5(table), repeats)
    base = _best(lambda: pd.util.hash_pandas_object(ordered, index=False).sum(), repeats)
    same = checksum_rows.row_hashes(ordered).sum(dtype=np.uint64) == pd.util.hash_pandas_object(
        ordered, index=False
    ).to_numpy().sum(dtype=np.uint64)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a.zarr"
        rng = np.random.default_rng(1)
        for i in range(ZARR_FILES):
            f = root / f"arr{i % 8}" / f"{i}.0"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(rng.bytes(ZARR_FILE_BYTES))
        files = sorted(p for p in root.rglob("*") if p.is_file())
        ours_z = _best(lambda: checksum_zarr.zarr_tree_digest(root), repeats)
        base_z = _best(lambda: [hashlib.md5(p.read_bytes()).hexdigest() for p in files], repeats)

    print(f"{'measure':48} {'ours (s)':>10} {'baseline (s)':>13} {'ours/baseline':>14}")
    print(f"{f'table_md5, {rows} rows (3 columns)':48} {ours:10.3f} {base:13.3f} {ours / base:14.2f}x")
    print(
        f"{f'zarr_tree_digest, {ZARR_FILES} x 16 KiB files':48} {ours_z:10.3f} {base_z:13.3f} {ours_z / base_z:14.2f}x"
    )
    print(f"row hashes equal pandas' hash_pandas_object on object strings: {bool(same)}")
    print(f"throughput: table_md5 {rows / ours / 1e6:.2f} M rows/s; zarr digest {ZARR_FILES / ours_z:.0f} files/s")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
