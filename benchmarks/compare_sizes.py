"""Peak memory of `calmodel compare` at two catalogue sizes (issue 16: memory at two sizes).

    .venv/bin/python benchmarks/compare_sizes.py --catalog CAT.fits --truth sky.csv \
        [--scale 100] --out DIR

Copies the catalogue and its truth ``--scale`` times, each copy shifted by half a degree in
right ascension (a tile is a few arcminutes, so no copy matches another), runs `calmodel
compare` on the original and on the copies (model and nomodel arms: the same catalogue) as
one child each, and writes DIR/compare_sizes.json and .md: wall time, CPU time and peak RSS
(os.wait4) against the number of components.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, measure  # noqa: E402  (a sibling script, not a package)

SHIFT_DEG = 0.5  # between copies, along RA (divided by cos(dec))


def replicate(table: Table, ra: str, dec: str, copies: int) -> Table:
    """``copies`` copies of ``table``, the k-th shifted by k x SHIFT_DEG on the sky."""
    parts = []
    for k in range(copies):
        part = table.copy()
        part[ra] = np.asarray(part[ra], float) + k * SHIFT_DEG / np.cos(np.radians(np.asarray(part[dec], float)))
        parts.append(part)
    return vstack(parts)


def run_size(catalog: Path, truth: Path, copies: int, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    cat = replicate(Table.read(catalog), "RA", "DEC", copies)
    sky = replicate(Table.read(truth, format="ascii.csv"), "ra_deg", "dec_deg", copies)
    cat.write(work / "catalog.fits", overwrite=True)
    sky.write(work / "sky.csv", format="ascii.csv", overwrite=True)
    record = catalog.parent / "catalog.json"  # the catalogue's rms and band, as compare reads them
    if record.is_file():
        shutil.copy(record, work / "catalog.json")
    cmd = [str(BIN / "calmodel"), "compare", "--model", "catalog.fits", "--nomodel", "catalog.fits",
           "--truth", "sky.csv", "--out", "cmp"]
    result = measure(cmd, work, {**os.environ, "OMP_NUM_THREADS": "1"})
    result.pop("output")
    return {"copies": copies, "components": len(cat), "truth_rows": len(sky), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.scale < 2:
        raise SystemExit("compare_sizes: --scale must be at least 2")
    for path in (args.catalog, args.truth):
        if not path.is_file():
            raise SystemExit(f"compare_sizes: not a file: {path}")
    rows = [run_size(args.catalog, args.truth, n, args.out / f"x{n}") for n in (1, args.scale)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare_sizes.json").write_text(json.dumps({"rows": rows}, indent=1))
    lines = ["| copies | components | truth rows | wall s | CPU s | peak RSS MB |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['copies']} | {r['components']} | {r['truth_rows']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} "
              f"| {r['peak_rss_mb']:.0f} |" for r in rows]
    (args.out / "compare_sizes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
