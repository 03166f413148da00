"""The sweep's map: every grid point's measured effect and verdict, and the 3% rule scored.

A grid point's *outcome* is its tile's verdict by the report's criterion: ``change`` for
significant-change, ``no-change`` for detected-within-tolerance or no-detectable-change,
``insufficient`` otherwise (insufficient data, or the tile missing from the run). The
*rule* is characterize's decision (memo Section 2 / the VLASS utilities: model-needed when
a binned amplitude in the 35-90 klambda band deviates by more than 3%). A false alarm is a
model-needed point without change; a miss is a point or uvrange point with change. The
threshold that would have separated the outcomes best is found over the points'
``max_abs_dev_in_band`` (the largest binned deviation in the band).
"""

from __future__ import annotations

import math
from pathlib import Path

from calmodel.core.io import write_csv
from calmodel.core.sweep_points import SweepPoint
from calmodel.report.criterion import DETECTED_WITHIN, NOT_DETECTED, SIGNIFICANT
from calmodel.report.values import get_in, number
from calmodel.report.vocabulary import MODES

CHANGE, NO_CHANGE, INSUFFICIENT = "change", "no-change", "insufficient"
OUTCOMES = (CHANGE, NO_CHANGE, INSUFFICIENT)
FLAGGED = "model-needed"
DECISIONS = ("point", "uvrange", FLAGGED, "insufficient-coverage", "unknown")
DECISION_SEVERITY = {d: i for i, d in enumerate(("unknown", "insufficient-coverage", "point", "uvrange", FLAGGED))}
# memo Figure 2: J0607-0834, brighter component 2.4 Jy, fainter 0.035 Jy (68x fainter)
MEMO_FIGURE2_RATIO = 0.035 / 2.4

# per mode: column suffix -> path of the fit (mean, mean_err) in the report's mode numbers
MODE_QUANTITIES = {
    "flux_offset_rms": ("total_flux", "in_rms_fit"),      # model - nomodel, / image rms
    "flux_offset_frac": ("total_flux", "fractional"),     # (model - nomodel) / nomodel
    "rms_ratio": ("rms_ratio",),                          # image rms, model / nomodel
    "alpha_offset": ("alpha", "difference"),              # SE only
    "model_over_true": ("truth_paired", "total_flux_model_over_true"),
    "nomodel_over_true": ("truth_paired", "total_flux_nomodel_over_true"),
}


def outcome_of(verdict: str | None) -> str:
    if verdict == SIGNIFICANT:
        return CHANGE
    if verdict in (DETECTED_WITHIN, NOT_DETECTED):
        return NO_CHANGE
    return INSUFFICIENT


def _decision(tile: dict) -> tuple[str, float | None]:
    """The most severe decision over the tile's gain calibrators, and its largest in-band
    deviation."""
    calibrators = get_in(tile, "characterize", "calibrators") or []
    if not calibrators:
        return "unknown", None
    decisions = [c.get("decision") if c.get("decision") in DECISION_SEVERITY else "unknown" for c in calibrators]
    deviations = [number(c.get("max_abs_dev_in_band")) for c in calibrators]
    deviations = [d for d in deviations if d is not None]
    return max(decisions, key=DECISION_SEVERITY.get), (max(deviations) if deviations else None)


def point_row(point: SweepPoint, tile: dict | None) -> dict:
    """One grid point: its coordinates, the rule, the outcome and the measured effect."""
    row = {"tile": point.tile, "flux_ratio": point.flux_ratio, "separation_beams": point.separation_beams,
           "separation_arcsec": point.separation_arcsec, "secondary_alpha": point.secondary_alpha,
           "n_secondaries": point.n_secondaries, "seed": point.seed}
    if tile is None:
        return row | {"scope": None, "decision": "unknown", "max_dev_in_band": None,
                      "verdict": "missing", "outcome": INSUFFICIENT}
    decision, deviation = _decision(tile)
    row |= {"scope": get_in(tile, "scope", "scope"), "decision": decision, "max_dev_in_band": deviation,
            "verdict": tile.get("verdict"), "outcome": outcome_of(tile.get("verdict"))}
    for mode in MODES:
        numbers = get_in(tile, "modes", mode) or {}
        for name, path in MODE_QUANTITIES.items():
            fit = get_in(numbers, *path)
            fit = fit if isinstance(fit, dict) else {}
            row[f"{mode}_{name}"] = number(fit.get("mean"))
            row[f"{mode}_{name}_err"] = number(fit.get("mean_err"))
        row[f"{mode}_verdict"] = numbers.get("verdict")
    return row


def confusion(rows: list[dict]) -> dict:
    """Counts of decision x outcome, and the rule's false alarms and misses (points with an
    insufficient outcome are counted but not scored)."""
    counts = {d: {o: 0 for o in OUTCOMES} for d in DECISIONS}
    for row in rows:
        counts[row["decision"]][row["outcome"]] += 1
    scored = [r for r in rows if r["outcome"] != INSUFFICIENT and r["decision"] in ("point", "uvrange", FLAGGED)]
    false_alarms = [r["tile"] for r in scored if r["decision"] == FLAGGED and r["outcome"] == NO_CHANGE]
    misses = [r["tile"] for r in scored if r["decision"] != FLAGGED and r["outcome"] == CHANGE]
    return {"counts": {d: c for d, c in counts.items() if any(c.values())},
            "n_scored": len(scored), "false_alarms": false_alarms, "misses": misses,
            "correct": len(scored) - len(false_alarms) - len(misses)}


def best_threshold(rows: list[dict]) -> dict | None:
    """The in-band deviation thresholds t (flag when max_dev_in_band > t) that misclassify
    the fewest scored points: the lowest such interval [low, high) and its error count.
    None when no point has both a deviation and a definite outcome."""
    scored = sorted((r["max_dev_in_band"], r["outcome"] == CHANGE) for r in rows
                    if r["outcome"] != INSUFFICIENT and r["max_dev_in_band"] is not None)
    if not scored:
        return None
    values = sorted({d for d, _ in scored})
    # thresholds between consecutive deviations (flagging everything above), and both ends
    candidates = [0.0] + values

    def errors(t: float) -> int:
        return sum(1 for d, change in scored if (d > t) != change)

    counted = [(errors(t), t) for t in candidates]
    fewest = min(e for e, _ in counted)
    low = min(t for e, t in counted if e == fewest)
    above = [v for v in values if v > low]
    high = above[0] if above else math.inf
    return {"threshold_low": low, "threshold_high": high, "errors": fewest, "n_scored": len(scored),
            "all_best": sorted(t for e, t in counted if e == fewest),
            "rule": "flag a calibrator when its largest binned deviation in the band is above t; "
                    "any t in [threshold_low, threshold_high) misclassifies `errors` points"}


def sweep_map(points: list[SweepPoint], tiles: dict, rule_threshold: float | None) -> dict:
    """The map's content for report.json: rows, the confusion table, the best threshold."""
    rows = [point_row(p, tiles.get(p.tile)) for p in points]
    return {"points": rows, "confusion": confusion(rows), "best_threshold": best_threshold(rows),
            "rule_threshold": rule_threshold, "memo_figure2_ratio": MEMO_FIGURE2_RATIO,
            "not_in_sweep": sorted(set(tiles) - {p.tile for p in points})}


def write_sweep_tables(sweep: dict, folder: Path) -> list[Path]:
    """points.csv (every grid point, every number) and confusion.csv (decision x outcome)."""
    points = sweep["points"]
    columns = list(dict.fromkeys(k for row in points for k in row))
    confusion_rows = [{"decision": d, **c} for d, c in sweep["confusion"]["counts"].items()]
    return [write_csv(folder / "points.csv", points, columns),
            write_csv(folder / "confusion.csv", confusion_rows, ["decision", *OUTCOMES])]
