"""Simulator throughput and peak memory for a few tile sizes.

    .venv/bin/python benchmarks/bench_simulate.py [--sizes demo,medium] [--keep DIR]

Each size runs `calmodel simulate` in a child process and reports visibilities
per second (complex single-polarisation samples written) and the child's peak
resident memory. `realistic` (16 spw x 64 channels, 2 s dumps, ~1 h) writes
~10 GB (1.3e9 visibilities) and takes a long time: run it on a machine with the disk for it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    "demo": "",
    "medium": """
observation: {integration_s: 2.0, channels_per_spw: 16, cycles: 3,
              spw_centres_ghz: [2.1, 2.35, 2.6, 2.85, 3.15, 3.4, 3.65, 3.9]}
""",
    "realistic": """
observation: {integration_s: 2.0, channels_per_spw: 64, cycles: 7, target_scan_s: 60.0,
              spw_centres_ghz: [2.06, 2.19, 2.31, 2.44, 2.56, 2.69, 2.81, 2.94,
                                3.06, 3.19, 3.31, 3.44, 3.56, 3.69, 3.81, 3.94],
              spw_width_mhz: 128.0}
fields: {targets: {count: 8}}
""",
}


def run_size(name: str, workdir: Path) -> dict:
    config = workdir / f"{name}.yaml"
    config.write_text("base: vlass-like\n" + SIZES[name])
    out = workdir / name
    calmodel = Path(sys.executable).parent / "calmodel"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run([str(calmodel), "simulate", "--config", str(config), "--seed", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    record = json.loads((out / "tile.json").read_text())
    return {"size": name, "rows": record["n_rows"], "visibilities": record["n_visibilities"],
            "elapsed_s": round(elapsed, 1), "vis_per_s": round(record["n_visibilities"] / elapsed),
            # ru_maxrss of children is the maximum over all children so far
            "peak_rss_mb": round(max(peak_kb, before) / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="demo,medium")
    parser.add_argument("--keep", type=Path, help="write tiles here instead of a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"{'size':10s} {'rows':>10s} {'visibilities':>14s} {'time_s':>8s} {'vis/s':>12s} {'peak_MB':>8s}")
        for name in args.sizes.split(","):
            r = run_size(name, workdir)
            print(f"{r['size']:10s} {r['rows']:>10d} {r['visibilities']:>14d} {r['elapsed_s']:>8.1f} "
                  f"{r['vis_per_s']:>12d} {r['peak_rss_mb']:>8d}")


if __name__ == "__main__":
    main()
