"""Replay the CASA task calls that a calmodel stage logged, with no calmodel around them.

    python benchmarks/replay.py --log CASA_LOG --source MS --outputs DIR [--select all|minimal-loop]

Run in an empty folder (the logged paths are relative to the folder the stage ran in).
CASA logs every task call with all its parameters (`taskname( vis='...', ... )` after
`##### Begin Task: taskname`); this script calls the same tasks with the same parameters
and prints one JSON line: the calls made and the wall and CPU seconds spent staging
(below), which the caller subtracts from this process's own wall time and rusage.

Staging, untimed because a bare-CASA user would have these files already:
- a `vis` that does not exist yet is the stage's private copy: copied from --source;
- a component list the stage wrote with casatools (rescaled models): the stage's own
  output list from --outputs (ft costs the same for the same number of components);
- build-model's mask image: made from the dirty image with build-model's own mask rule;
- a cal library (calibrate's `apply.callib`): the stage's own, from --outputs (its
  caltable paths are the relative ones the replay's own solves write);
- an existing split or mstransform output, or the images of a tclean that starts afresh
  (calcpsf), is removed first (the stage removes them between its passes).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import time
from pathlib import Path

BEGIN = re.compile(r"##### (Begin|End) Task: (\w+)")


def logged_calls(log: Path) -> list[tuple[str, dict]]:
    """Top-level task calls in order (a task that calls another logs a nested Begin/End)."""
    calls, depth, pending = [], 0, None
    for line in log.read_text(errors="replace").splitlines():
        marker = BEGIN.search(line)
        if marker:
            depth += 1 if marker.group(1) == "Begin" else -1
            pending = marker.group(2) if (marker.group(1) == "Begin" and depth == 1) else None
            continue
        if pending and f"\t{pending}( " in line:
            text = line.split("\t")[-1].strip()
            call = ast.parse(text, mode="eval").body
            calls.append((pending, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}))
            pending = None
    return calls


def minimal_loop(calls: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The memo's minimum self-calibration loop from build-model's calls: the set-up before
    the loop, then from its last pass the dirty image and, per solint, one fresh tclean, the
    gaincal and the applycal that carries it to the next solint."""
    dirty = next((i for i, (name, kw) in enumerate(calls) if name == "tclean" and kw.get("niter") == 0), None)
    if dirty is None:
        raise SystemExit("replay: no dirty tclean (niter=0) in the log: not a build-model log")
    setup, loop = calls[:dirty], calls[dirty + 1:]
    # each pass of the loop starts from the input calibration (clearcal); the last one that
    # self-calibrates is the one whose model is kept
    starts = [0] + [i for i, (name, _) in enumerate(loop) if name == "clearcal"]
    passes = [loop[a:b] for a, b in zip(starts, starts[1:] + [len(loop)])]
    last = [calls[dirty]] + [p for p in passes if any(name == "gaincal" for name, _ in p)][-1]
    # build-model's own first image of a round continues an earlier clean (calcpsf=False,
    # mask='' as the mask came with the copied images); the memo's loop images afresh, with
    # the static mask that build-model's other images of the pass name
    masks = [kw["mask"] for name, kw in last if name == "tclean" and kw.get("mask")]
    fresh = {"calcpsf": True, "calcres": True, **({"mask": masks[0]} if masks else {})}
    kept = [last[0]]  # the dirty image (mask template)
    for i, (name, _) in enumerate(last):
        if name == "gaincal":
            image_name, image_kw = last[i - 1]
            kept += [(image_name, {**image_kw, **fresh}), last[i]] + ([last[i + 1]] if i + 1 < len(last) else [])
    return setup + kept


def stage_inputs(name: str, kw: dict, source: Path, outputs: Path, dirty: str | None) -> None:
    vis = kw.get("vis")
    if isinstance(vis, str) and vis and not Path(vis).exists():
        Path(vis).parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, vis, symlinks=True)
    for key in ("complist", "model"):
        value = kw.get(key)
        if isinstance(value, str) and value.endswith(".cl") and not Path(value).exists():
            found = sorted(outputs.rglob("*.cl"))
            if not found:
                raise SystemExit(f"replay: {name} needs {value}; no component list under {outputs}")
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(found[0], value)
    library = kw.get("callib")
    if isinstance(library, str) and library and not Path(library).exists():
        Path(library).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(outputs / Path(library).name, library)
    for key in ("caltable", "imagename", "outputvis"):
        if isinstance(kw.get(key), str) and kw[key]:
            Path(kw[key]).parent.mkdir(parents=True, exist_ok=True)
    if name == "tclean" and kw.get("calcpsf", True):  # a fresh image, not a continuation
        for old in Path(".").glob(kw["imagename"] + ".*"):
            if old.suffix != ".ms":  # T01_se.ms beside the T01_se.* images is the data
                shutil.rmtree(old)
        mask = kw.get("mask")
        if isinstance(mask, str) and mask and not Path(mask).exists():
            make_mask(Path(f"{dirty}.image.tt0"), Path(mask))
    if name in ("split", "mstransform") and Path(kw["outputvis"]).exists():
        shutil.rmtree(kw["outputvis"])


def make_mask(dirty: Path, mask: Path) -> None:
    import numpy as np

    from calmodel.build_model.settings import BuildModelSettings
    from calmodel.build_model.stage import source_mask
    from calmodel.core.images import image_like, read_plane
    from calmodel.core.stats import robust_rms

    image = read_plane(dirty)
    rms = robust_rms(image[image < np.percentile(image, 90)])
    image_like(dirty, mask, source_mask(image, rms, BuildModelSettings().mask_threshold_sigma, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True, help="the stage's input MS")
    parser.add_argument("--outputs", type=Path, required=True, help="the stage's output folder")
    parser.add_argument("--select", choices=["all", "minimal-loop"], default="all")
    args = parser.parse_args()
    calls = logged_calls(args.log)
    if args.select == "minimal-loop":
        calls = minimal_loop(calls)
    import casatasks

    casatasks.casalog.setlogfile(str(Path("casa.log").resolve()))
    staged_wall, staged_cpu, dirty = 0.0, 0.0, None
    for name, kw in calls:
        t0, c0 = time.monotonic(), time.process_time()
        stage_inputs(name, kw, args.source.resolve(), args.outputs.resolve(), dirty)
        staged_wall += time.monotonic() - t0
        staged_cpu += time.process_time() - c0
        if name == "tclean" and kw.get("niter") == 0:
            dirty = kw["imagename"]
        getattr(casatasks, name)(**kw)
    print(json.dumps({"staged_wall_s": staged_wall, "staged_cpu_s": staged_cpu,
                      "calls": [name for name, _ in calls]}))


if __name__ == "__main__":
    main()
