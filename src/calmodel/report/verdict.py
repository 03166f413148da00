"""Judging the numbers against the criterion: checks, a verdict and its reasons."""

from __future__ import annotations

import math

from calmodel.report.criterion import Criterion
from calmodel.report.values import get_in, number


def _check(label: str, mode: str, value, error, threshold: float, nsigma: float,
           in_rms=None, rms_fraction: float | None = None) -> dict:
    value, error, in_rms = number(value), number(error), number(in_rms)
    check = {"mode": mode, "quantity": label, "value": value, "error": error,
             "threshold": threshold, "nsigma": nsigma, "significance": None,
             "significant": None, "offset_in_rms": in_rms, "rms_fraction": rms_fraction}
    if value is None or error is None:
        return check
    check["significance"] = abs(value) / error if error > 0 else (math.inf if value else 0.0)
    above_noise = in_rms is None or rms_fraction is None or abs(in_rms) > rms_fraction
    check["significant"] = bool(abs(value) > nsigma * error and abs(value) > threshold and above_noise)
    return check


def checks_for(mode: str, numbers: dict, criterion: Criterion) -> list[dict]:
    n, thr = criterion.nsigma, criterion.flux_threshold
    checks = []
    for key, label in (("total_flux", "Total_flux fractional offset"),
                       ("peak_flux", "Peak_flux fractional offset")):
        fit = get_in(numbers, key, "fractional") or {}
        checks.append(_check(label, mode, fit.get("mean"), fit.get("mean_err"), thr, n,
                             get_in(numbers, key, "in_rms", "mean"), criterion.rms_fraction))
    diff = get_in(numbers, "truth", "flux_ratio_difference")
    if diff:
        checks.append(_check("truth flux ratio model - nomodel", mode, diff.get("value"),
                             diff.get("error"), thr, n))
    alpha = get_in(numbers, "alpha", "difference")
    if alpha:
        checks.append(_check("Alpha offset", mode, alpha.get("mean"), alpha.get("mean_err"),
                             criterion.alpha_threshold, n))
    return checks


def _reason(check: dict) -> str:
    fractional = "Alpha" not in check["quantity"]
    value, error = check["value"], check["error"]
    if fractional:
        text = f"{value * 100:+.2f}% ± {error * 100:.2f}%"
        thr = f"{check['threshold'] * 100:g}%"
    else:
        text = f"{value:+.4f} ± {error:.4f}"
        thr = f"{check['threshold']:g}"
    sig = check["significance"]
    sig_text = "exact" if sig == math.inf else f"{sig:.1f}σ"
    noise = (f" and {check['rms_fraction']:g} x image RMS ({check['offset_in_rms']:+.2f})"
             if check.get("offset_in_rms") is not None and check.get("rms_fraction") is not None else "")
    return (f"{check['mode'].upper()} {check['quantity']} {text} ({sig_text}) exceeds "
            f"{check['nsigma']:g}σ and {thr}{noise}")


def verdict_of(checks: list[dict]) -> tuple[str, list[str]]:
    judged = [c for c in checks if c["significant"] is not None]
    if not judged:
        return "not-evaluated", ["no compare.json number to test"]
    significant = [c for c in judged if c["significant"]]
    if significant:
        return "significant-change", [_reason(c) for c in significant]
    return "no-significant-change", [
        f"{len(judged)} checks, none beyond {judged[0]['nsigma']:g}σ and the threshold"]


def overall_verdict(pooled: list[dict], parts: dict[str, dict]) -> tuple[str, list[str]]:
    """The pooled checks of all tiles, and significant-change whenever a tile (``parts``:
    tile -> its entry or mode numbers, with verdict and reasons) is."""
    verdict, reasons = verdict_of(pooled)
    flagged = [t for t, p in parts.items() if p.get("verdict") == "significant-change"]
    if verdict == "significant-change":
        # one tile: its own reasons already say it
        reasons = [] if len(parts) == 1 else [f"all tiles combined: {r}" for r in reasons]
    elif flagged:
        reasons = []
    if flagged:
        verdict = "significant-change"
        reasons = [f"tile {t}: {r}" for t in flagged for r in parts[t]["reasons"]] + reasons
    return verdict, reasons
