"""The report's content: every record summarised, combined per tile and overall, judged."""

from __future__ import annotations

import math
from pathlib import Path

from calmodel import CalmodelError
from calmodel.report.criterion import Criterion
from calmodel.report.records import Record
from calmodel.report.summaries import (combine_summaries, image_rms_for, summarise_build_model,
                                       summarise_characterize, summarise_compare,
                                       summarise_fluxscale, summarise_image,
                                       summarise_simulation)
from calmodel.report.values import get_in, number
from calmodel.report.verdict import checks_for, overall_verdict, verdict_of
from calmodel.report.vocabulary import ARMS, MODES

# single-record stages: stage -> (tile entry key, summariser)
ONE_PER_TILE = {"characterize": ("characterize", summarise_characterize),
                "build_model": ("build_model", summarise_build_model)}


def _by_stage(records: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {}
    for rec in records:
        grouped.setdefault(rec.stage, []).append(rec)
    return grouped


def _refuse_duplicate_compares(compares: list[Record]) -> None:
    seen: dict[tuple, Path] = {}
    for rec in compares:
        key = (rec.tile, rec.field, rec.mode)
        if key in seen:
            raise CalmodelError(f"two compare.json records for tile {rec.tile}, field {rec.field}, "
                                f"mode {rec.mode}: {seen[key]} and {rec.path}")
        seen[key] = rec.path


def _new_tile_entry() -> dict:
    return {"verdict": None, "reasons": [], "checks": [], "modes": {}, "characterize": None,
            "build_model": None, "fluxscale": {}, "images": [], "simulation": None}


def _fluxscale_ratio(fluxscale: dict) -> dict | None:
    if not all(number(get_in(fluxscale, a, "fit_flux_jy")) for a in ARMS):
        return None
    model, nomodel = fluxscale["model"], fluxscale["nomodel"]
    ratio = model["fit_flux_jy"] / nomodel["fit_flux_jy"]
    err_model, err_nomodel = (number(model.get("fit_flux_error_jy")),
                              number(nomodel.get("fit_flux_error_jy")))
    error = (ratio * math.hypot(err_model / model["fit_flux_jy"], err_nomodel / nomodel["fit_flux_jy"])
             if err_model is not None and err_nomodel is not None else None)
    return {"flux_ratio": ratio, "flux_ratio_error": error}


def _tiles_from_records(by_stage: dict, warnings: list[str]) -> dict[str, dict]:
    tiles: dict[str, dict] = {}

    def entry(name: str) -> dict:
        return tiles.setdefault(name, _new_tile_entry())

    for rec in sorted(by_stage.get("compare", []), key=lambda r: (r.tile, r.mode, r.field)):
        rms, source = image_rms_for(rec, by_stage)
        modes = entry(rec.tile)["modes"]
        modes.setdefault(rec.mode, {"fields": {}})["fields"][rec.field] = summarise_compare(
            rec, rms, source)
    for stage, (key, summarise) in ONE_PER_TILE.items():
        for rec in by_stage.get(stage, []):
            if entry(rec.tile)[key] is not None:
                warnings.append(f"tile {rec.tile}: more than one {rec.path.name}; using {rec.path}")
            entry(rec.tile)[key] = summarise(rec)
    for rec in by_stage.get("calibrate", []):
        arm = rec.arm or "unknown"
        if arm in entry(rec.tile)["fluxscale"]:
            warnings.append(f"tile {rec.tile}: more than one calibrate.json for arm {arm}; "
                            f"using {rec.path}")
        entry(rec.tile)["fluxscale"][arm] = summarise_fluxscale(rec)
    for rec in by_stage.get("image", []):
        entry(rec.tile)["images"].append(summarise_image(rec))
    for rec in by_stage.get("simulate", []):
        entry(rec.tile)["simulation"] = summarise_simulation(rec)
    for rec in by_stage.get("catalog", []):
        entry(rec.tile)
    return tiles


def _judge_tile(entry: dict, criterion: Criterion) -> None:
    ratio = _fluxscale_ratio(entry["fluxscale"])
    if ratio:
        entry["fluxscale"]["model_over_nomodel"] = ratio
    for mode in sorted(entry["modes"]):
        numbers = entry["modes"][mode]
        numbers.update(combine_summaries([numbers["fields"][f] for f in sorted(numbers["fields"])]))
        numbers["checks"] = checks_for(mode, numbers, criterion)
        numbers["verdict"], numbers["reasons"] = verdict_of(numbers["checks"])
        entry["checks"] += numbers["checks"]
    entry["verdict"], entry["reasons"] = verdict_of(entry["checks"])


def _overall(tiles: dict, criterion: Criterion) -> dict:
    overall: dict = {"modes": {}, "checks": [], "tiles_significant": sorted(
        t for t, e in tiles.items() if e["verdict"] == "significant-change")}
    for mode in MODES:
        names = [t for t in sorted(tiles) if mode in tiles[t]["modes"]]
        if not names:
            continue
        numbers = combine_summaries([tiles[t]["modes"][mode] for t in names])
        numbers["tiles"] = names
        numbers["checks"] = checks_for(mode, numbers, criterion)
        numbers["verdict"], numbers["reasons"] = overall_verdict(
            numbers["checks"], {t: tiles[t]["modes"][mode] for t in names})
        overall["modes"][mode] = numbers
        overall["checks"] += numbers["checks"]
    overall["verdict"], overall["reasons"] = verdict_of(overall["checks"])
    if overall["tiles_significant"] or any(m["verdict"] == "significant-change"
                                           for m in overall["modes"].values()):
        overall["verdict"] = "significant-change"
        overall["reasons"] = [f"tile {t}: {r}" for t in overall["tiles_significant"]
                              for r in tiles[t]["reasons"]]
        overall["reasons"] += [r for m in overall["modes"].values() for r in m["reasons"]
                               if r.startswith("all tiles combined")]
    return overall


def build(records: list[Record], criterion: Criterion) -> dict:
    """The report's content (what report.json holds, less provenance)."""
    by_stage = _by_stage(records)
    _refuse_duplicate_compares(by_stage.get("compare", []))
    warnings: list[str] = []
    tiles = _tiles_from_records(by_stage, warnings)
    for entry in tiles.values():
        _judge_tile(entry, criterion)
    overall = _overall(tiles, criterion)
    headlines = [{"label": "Overall", "verdict": overall["verdict"], "reasons": overall["reasons"]}]
    return {"criterion": criterion.as_dict(), "tiles": dict(sorted(tiles.items())),
            "overall": overall, "headlines": headlines, "warnings": warnings}
