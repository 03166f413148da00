"""Project a benchmark.json to one VLASS execution block, per stage and arm, in core-hours.

    .venv/bin/python benchmarks/project.py DIR/benchmark.json

Assumptions (docs/performance.md): every visibility-bound stage's CPU time grows linearly
with the tile's visibilities, the block has the same share of time per field role as the
measured tile, and CPU-seconds are core-seconds (the suite runs OMP_NUM_THREADS=1 unless
--threads says otherwise). Catalog and compare do not read visibilities: they are listed
per image as measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# One VLASS execution block: 4 h of 0.45 s integrations, 16 spw x 64 channels, RR and LL,
# 27 antennas (351 cross-correlation baselines).
VLASS = {"hours": 4.0, "integration_s": 0.45, "spw": 16, "channels": 64, "correlations": 2, "antennas": 27}


def vlass_visibilities(block: dict = VLASS) -> float:
    baselines = block["antennas"] * (block["antennas"] - 1) / 2
    dumps = block["hours"] * 3600 / block["integration_s"]
    return baselines * dumps * block["spw"] * block["channels"] * block["correlations"]


def projection(result: dict) -> str:
    tile_vis = next(r["visibilities"] for r in result["stages"] if r["stage"] == "simulate") \
        if any(r["stage"] == "simulate" for r in result["stages"]) else result["stages"][0]["visibilities"]
    scale = vlass_visibilities() / tile_vis
    lines = [f"VLASS block: {vlass_visibilities():.3g} visibilities = {scale:.3g} x the measured tile "
             f"({tile_vis:.3g}).", "",
             "| stage | arm | mode | measured CPU s | tile vis / CPU s | projected core-hours |",
             "|---|---|---|---|---|---|"]
    total, arms = 0.0, {"shared": 0.0, "nomodel": 0.0, "model": 0.0}
    for row in result["stages"]:
        if row["stage"] == "simulate":
            continue
        bound = row["stage"] not in ("catalog", "compare")
        hours = row["cpu_s"] * scale / 3600 if bound else row["cpu_s"] / 3600
        total += hours
        # build-model exists for the model arm only; characterize serves both
        arms[row.get("arm") or ("model" if row["stage"] == "build-model" else "shared")] += hours
        rate = f"{tile_vis / row['cpu_s']:.3g}" if bound else "-"
        lines.append(f"| {row['stage']} | {row.get('arm') or ''} | {row.get('mode') or ''} | "
                     f"{row['cpu_s']:.1f} | {rate} | {hours:.3g}{'' if bound else ' (per image, as measured)'} |")
    lines.append(f"| **all** | | | | | **{total:.3g}** |")
    lines += ["", "Per arm (core-hours): " + ", ".join(f"{arm} {hours:.3g}" for arm, hours in arms.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", type=Path)
    print(projection(json.loads(parser.parse_args().benchmark.read_text())))


if __name__ == "__main__":
    main()
