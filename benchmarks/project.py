"""Project a benchmark.json to one VLASS execution block, per stage and arm, in core-hours.

    .venv/bin/python benchmarks/project.py DIR/benchmark.json [--smaller SMALLER/benchmark.json]

Assumptions (docs/performance.md): every visibility-bound stage's CPU time grows linearly
with the tile's visibilities (alone: proportional to them, an upper bound that counts the
fixed per-process cost once per tile's worth of visibilities; with --smaller, a measurement
of a smaller tile, fixed + linear through the two sizes, and only the linear part scales), the block has the same share of time per field role as the
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


def tile_visibilities(result: dict) -> int:
    rows = result["stages"]
    return next((r["visibilities"] for r in rows if r["stage"] == "simulate"), rows[0]["visibilities"])


def key(row: dict) -> tuple:
    return row["stage"], row.get("arm") or "", row.get("mode") or ""


def per_visibility(large: float, small: float, vis_large: int, vis_small: int) -> float:
    return (large - small) / (vis_large - vis_small)


def linear_ratios(result: dict, smaller: dict) -> str:
    """calmodel / bare of the CPU per visibility (the fixed part removed), per replayed stage:
    what the overhead ratio tends to on a large tile."""
    big, small = tile_visibilities(result), tile_visibilities(smaller)
    small_rows = {key(r): r for r in smaller["stages"]}
    lines = ["| stage | arm | mode | calmodel CPU s per M vis | bare CPU s per M vis | ratio of the linear parts |",
             "|---|---|---|---|---|---|"]
    for row in result["stages"]:
        other = small_rows.get(key(row))
        if "bare_cpu_s" not in row or not other or "bare_cpu_s" not in other:
            continue
        ours = per_visibility(row["cpu_s"], other["cpu_s"], big, small) * 1e6
        bare = per_visibility(row["bare_cpu_s"], other["bare_cpu_s"], big, small) * 1e6
        lines.append(f"| {row['stage']} | {row.get('arm') or ''} | {row.get('mode') or ''} | {ours:.3g} | "
                     f"{bare:.3g} | {ours / bare if bare > 0 else float('nan'):.2f} |")
    return "\n".join(lines) + "\n"


def projection(result: dict, smaller: dict | None = None) -> str:
    tile_vis = tile_visibilities(result)
    block = vlass_visibilities()
    scale = block / tile_vis
    small_rows = {key(r): r for r in smaller["stages"]} if smaller else {}
    small_vis = tile_visibilities(smaller) if smaller else None
    lines = [f"VLASS block: {block:.3g} visibilities = {scale:.3g} x the measured tile ({tile_vis:.3g})."
             + (f" Fixed + linear through a second tile of {small_vis:.3g}." if smaller else ""), "",
             "| stage | arm | mode | measured CPU s | smaller tile CPU s | CPU s per M visibilities | fixed CPU s "
             "| projected core-hours |", "|---|---|---|---|---|---|---|---|"]
    total, arms = 0.0, {"shared": 0.0, "nomodel": 0.0, "model": 0.0}
    for row in result["stages"]:
        if row["stage"] == "simulate":
            continue
        bound = row["stage"] not in ("catalog", "compare")
        other = small_rows.get(key(row))
        slope, fixed = row["cpu_s"] / tile_vis, 0.0
        note = " (proportional: no smaller tile)" if smaller and not other else ""
        if bound and other:
            fitted = per_visibility(row["cpu_s"], other["cpu_s"], tile_vis, small_vis)
            if fitted > 0:
                slope, fixed = fitted, row["cpu_s"] - fitted * tile_vis
            else:  # within the noise: keep the proportional upper bound, and say so
                note = " (no growth measured: proportional)"
        hours = (fixed + slope * block) / 3600 if bound else row["cpu_s"] / 3600
        total += hours
        # build-model exists for the model arm only; characterize serves both
        arms[row.get("arm") or ("model" if row["stage"] == "build-model" else "shared")] += hours
        label = f"| {row['stage']} | {row.get('arm') or ''} | {row.get('mode') or ''} | {row['cpu_s']:.1f} | "
        if bound:
            lines.append(label + f"{other['cpu_s'] if other else float('nan'):.1f} | {slope * 1e6:.3g} | "
                                 f"{fixed:.1f} | {hours:.3g}{note} |")
        else:
            lines.append(label + f"| - | - | {hours:.2g} (per image, as measured) |")
    lines.append(f"| **all** | | | | | | | **{total:.3g}** |")
    lines += ["", "Per arm (core-hours): " + ", ".join(f"{arm} {hours:.3g}" for arm, hours in arms.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--smaller", type=Path, help="benchmark.json of a smaller tile: fixed + linear fit")
    args = parser.parse_args()
    smaller = json.loads(args.smaller.read_text()) if args.smaller else None
    result = json.loads(args.benchmark.read_text())
    if smaller and tile_visibilities(smaller) >= tile_visibilities(result):
        raise SystemExit("project: --smaller must be a tile with fewer visibilities than BENCHMARK")
    print(projection(result, smaller))
    if smaller:
        print(linear_ratios(result, smaller))


if __name__ == "__main__":
    main()
