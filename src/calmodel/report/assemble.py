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
from calmodel.report.noise import rms_ratio
from calmodel.report.paired_truth import (frequency_of, paired_against_truth, read_csv_columns,
                                          truth_tables_for)
from calmodel.report.model_truth import model_against_truth
from calmodel.report.scope import IN_SCOPE, OUT_OF_SCOPE, SCOPES, UNKNOWN_SCOPE, scope_of_tile
from calmodel.report.verdict import checks_for, combined_verdict, verdict_of
from calmodel.report.vocabulary import ARMS, MODES

DEFAULT_MATCH_RADIUS_ARCSEC = 0.5  # the memo's matching tolerance
NO_TARGET = "no-target"  # a calibrator-only tile's verdict (never part of an overall one)
SCOPE_HEADLINES = {
    IN_SCOPE: "In scope (calibrator core > {ratio:g}x the next component: the memo's case)",
    OUT_OF_SCOPE: "Out of scope (calibrator core not > {ratio:g}x the next: outside the memo's "
                  "conclusion)",
    UNKNOWN_SCOPE: "Scope unknown (no truth and no model components to tell)",
}

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
    return {"verdict": None, "reasons": [], "scope": None, "modes": {}, "characterize": None,
            "build_model": None, "model_vs_truth": None, "fluxscale": {}, "images": [], "simulation": None}


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


def _paired_numbers(compare: Record, images: dict, truth_sky: dict | None) -> dict:
    """What the report measures itself for one compare: both arms' image rms, their ratio,
    and the arms against the truth over the same components."""
    arms = {arm: images.get((compare.tile, compare.field, compare.mode, arm)) for arm in ARMS}
    out: dict = {"rms_by_arm": {arm: number(rec.data.get("rms_jy")) for arm, rec in arms.items()
                                if rec is not None}}
    if all(arms.values()):
        out["rms_ratio"] = rms_ratio(arms["model"].data, arms["nomodel"].data)
    matched_name = get_in(compare.data, "products", "matched") or "matched.csv"
    matched = read_csv_columns(compare.path.parent / matched_name) if truth_sky else None
    if matched:
        nomodel_image = arms["nomodel"].data if arms["nomodel"] else None
        out["truth_paired"] = paired_against_truth(
            matched, truth_sky, compare.field,
            number(compare.data.get("match_radius_arcsec")) or DEFAULT_MATCH_RADIUS_ARCSEC,
            frequency_of(nomodel_image))
    return out


def _tiles_from_records(by_stage: dict, warnings: list[str], criterion: Criterion) -> dict[str, dict]:
    tiles: dict[str, dict] = {}

    def entry(name: str) -> dict:
        return tiles.setdefault(name, _new_tile_entry())

    images = {(r.tile, r.field, r.mode, r.arm): r for r in by_stage.get("image", [])}
    simulations = {r.tile: r for r in by_stage.get("simulate", [])}
    truth_skies = {tile: truth_tables_for(r.path, r.data) for tile, r in simulations.items()}
    for rec in sorted(by_stage.get("compare", []), key=lambda r: (r.tile, r.mode, r.field)):
        rms, source = image_rms_for(rec, by_stage)
        paired = _paired_numbers(rec, images, truth_skies.get(rec.tile))
        modes = entry(rec.tile)["modes"]
        modes.setdefault(rec.mode, {"fields": {}})["fields"][rec.field] = summarise_compare(
            rec, rms, source, paired)
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
    build_models = {r.tile: r for r in by_stage.get("build_model", [])}
    for name, tile in tiles.items():
        tile["scope"] = scope_of_tile(simulations.get(name), build_models.get(name),
                                      criterion.scope_ratio)
        tile["model_vs_truth"] = model_against_truth(simulations.get(name), build_models.get(name))
    return tiles


def calibrator_only(entry: dict) -> bool:
    """A tile whose characterize record found no target field (core.roles), and which has
    no compare: a calibrator-only observation (e.g. 3C273XC1.fits), judged by nothing."""
    targets = get_in(entry, "characterize", "targets")
    return not entry["modes"] and isinstance(targets, list) and not targets


def _judge_tile(entry: dict, criterion: Criterion) -> None:
    if calibrator_only(entry):
        entry["calibrator_only"] = True
        entry["verdict"] = NO_TARGET
        entry["reasons"] = ["no target field in this tile, so nothing to compare (field roles: "
                            f"{get_in(entry, 'characterize', 'targets_reason')}); its characterisation "
                            "and model are reported, and it is left out of the overall verdicts"]
        return
    ratio = _fluxscale_ratio(entry["fluxscale"])
    if ratio:
        entry["fluxscale"]["model_over_nomodel"] = ratio
    for mode in sorted(entry["modes"]):
        numbers = entry["modes"][mode]
        numbers.update(combine_summaries([numbers["fields"][f] for f in sorted(numbers["fields"])]))
        numbers["checks"] = checks_for(mode, numbers, criterion)
        numbers["verdict"], numbers["reasons"] = verdict_of(numbers["checks"])
    if entry["modes"]:
        # the check lines name their mode already
        entry["verdict"], entry["reasons"] = combined_verdict(entry["modes"], name_parts=False)
    else:
        entry["verdict"], entry["reasons"] = verdict_of([])


def _scope_overall(tiles: dict, names: list[str], criterion: Criterion) -> dict:
    """The tiles of one scope combined per mode and judged, and the scope's verdict: the most
    severe of its tiles' and of the combined modes'."""
    overall: dict = {"tiles": names, "modes": {}}
    for mode in MODES:
        with_mode = [t for t in names if mode in tiles[t]["modes"]]
        if not with_mode:
            continue
        numbers = combine_summaries([tiles[t]["modes"][mode] for t in with_mode])
        numbers["tiles"] = with_mode
        numbers["checks"] = checks_for(mode, numbers, criterion)
        numbers["verdict"], numbers["reasons"] = verdict_of(numbers["checks"])
        overall["modes"][mode] = numbers
    parts = {f"tile {t}": tiles[t] for t in names}
    if len(names) > 1:
        parts |= {f"all {len(with_tiles['tiles'])} tiles combined, {mode.upper()}": with_tiles
                  for mode, with_tiles in overall["modes"].items()}
    overall["verdict"], overall["reasons"] = combined_verdict(parts)
    return overall


def build(records: list[Record], criterion: Criterion) -> dict:
    """The report's content (what report.json holds, less provenance)."""
    by_stage = _by_stage(records)
    _refuse_duplicate_compares(by_stage.get("compare", []))
    warnings: list[str] = []
    tiles = _tiles_from_records(by_stage, warnings, criterion)
    for entry in tiles.values():
        _judge_tile(entry, criterion)
    overall = {}
    for scope in SCOPES:
        names = sorted(t for t, e in tiles.items() if e["scope"]["scope"] == scope
                       and not e.get("calibrator_only"))
        if names:
            overall[scope] = _scope_overall(tiles, names, criterion)
    headlines = [{"label": SCOPE_HEADLINES[scope].format(ratio=criterion.scope_ratio), "scope": scope, "verdict": o["verdict"],
                  "reasons": o["reasons"]} for scope, o in overall.items()]
    return {"criterion": criterion.as_dict(), "tiles": dict(sorted(tiles.items())),
            "overall": overall, "headlines": headlines, "warnings": warnings}
