"""Judging the numbers against the criterion.

A *check* is one quantity of one image mode: its value, uncertainty, number of components,
tolerance, outcome, and the tolerance (and nsigma) at which its outcome would flip. The
flip values are rounded, in the flipping direction, to the precision the reason line
prints, so that re-running with the printed value does flip the outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from calmodel.report.criterion import (DETECTED_WITHIN, INSUFFICIENT, NOT_DETECTED,
                                       SIGNIFICANT, VERDICTS, Criterion)
from calmodel.report.values import get_in, number


@dataclass(frozen=True)
class Display:
    """How a kind of quantity is printed: scale, decimals, unit suffix."""
    scale: float
    decimals: int
    suffix: str

    @property
    def step(self) -> float:
        return 10.0 ** -self.decimals / self.scale

    def value(self, x: float, signed: bool = True) -> str:
        return f"{x * self.scale:{'+' if signed else ''}.{self.decimals}f}{self.suffix}"

    def with_error(self, x: float, error: float) -> str:
        number_only = Display(self.scale, self.decimals, "")
        return f"{number_only.value(x)} ± {number_only.value(error, signed=False)}{self.suffix}"


PERCENT = Display(100.0, 2, "%")
IN_RMS = Display(1.0, 2, " x RMS")
ALPHA = Display(1.0, 3, "")
RATIO_CHANGE = Display(100.0, 1, "%")

# (numbers key path, label, tolerance parameter, display); paired over matched components
COMPONENT_QUANTITIES = (
    (("total_flux", "fractional"), "Total_flux offset (fractional)", "flux_threshold", PERCENT),
    (("peak_flux", "fractional"), "Peak_flux offset (fractional)", "flux_threshold", PERCENT),
    (("total_flux", "in_rms_fit"), "Total_flux offset / image RMS", "rms_fraction", IN_RMS),
    (("peak_flux", "in_rms_fit"), "Peak_flux offset / image RMS", "rms_fraction", IN_RMS),
    (("alpha", "difference"), "Alpha offset", "alpha_threshold", ALPHA),
    (("truth_paired", "total_flux"), "Total_flux vs truth, model - nomodel (paired)",
     "flux_threshold", PERCENT),
    (("truth_paired", "peak_flux"), "Peak_flux vs truth, model - nomodel (paired, point sources)",
     "flux_threshold", PERCENT),
)
RMS_RATIO_LABEL = "Image RMS change (model / nomodel - 1)"
# the memo's own fits (Tables 2/3): when these cannot be judged, nothing detected elsewhere
# is not enough to call a mode "no detectable change"
PRIMARY_QUANTITIES = {label for path, label, _, _ in COMPONENT_QUANTITIES if path[1] == "fractional"}


def _strictly_below(x: float, step: float, decimals: int) -> float:
    """The largest printed value strictly below x."""
    candidate = round(math.floor(x / step) * step, decimals + 6)
    while candidate >= x:
        candidate = round(candidate - step, decimals + 6)
    return candidate


def _at_or_above(x: float, step: float, decimals: int) -> float:
    """The smallest printed value at or above x."""
    candidate = round(math.ceil(x / step) * step, decimals + 6)
    while candidate < x:
        candidate = round(candidate + step, decimals + 6)
    return candidate


def judge(mode: str, label: str, fit: dict | None, tolerance_parameter: str, display: Display,
          criterion: Criterion, counted: bool = True) -> dict | None:
    """One check. ``fit``: {mean, mean_err, n_core}; ``counted``: whether the minimum number
    of components applies (not to an RMS ratio)."""
    if not fit or number(fit.get("mean")) is None or number(fit.get("mean_err")) is None:
        return None
    value, error = float(fit["mean"]), float(fit["mean_err"])
    n = int(number(fit.get("n_core")) or 0) if counted else None
    tolerance = float(getattr(criterion, tolerance_parameter))
    significance = abs(value) / error if error > 0 else (math.inf if value else 0.0)
    check = {"mode": mode, "quantity": label, "value": value, "error": error, "n": n,
             "tolerance": tolerance, "tolerance_parameter": tolerance_parameter,
             "nsigma": criterion.nsigma, "significance": significance, "detected": None,
             "beyond_tolerance": abs(value) > tolerance, "outcome": INSUFFICIENT,
             "flip_tolerance": None, "flip_nsigma": None}
    if counted and n < criterion.min_components:
        check["reason"] = (f"{mode.upper()} {label}: insufficient data, {n} components in the "
                           f"fit < {criterion.min_components}; not judged")
        return check
    check["detected"] = significance > criterion.nsigma
    step = display.step
    if check["detected"] and check["beyond_tolerance"]:
        check["outcome"] = SIGNIFICANT
        check["flip_tolerance"] = _at_or_above(abs(value), step, display.decimals)
    elif check["detected"]:
        check["outcome"] = DETECTED_WITHIN
        check["flip_tolerance"] = _strictly_below(abs(value), step, display.decimals)
    else:
        check["outcome"] = NOT_DETECTED
        if significance > 0 and math.isfinite(significance):
            check["flip_nsigma"] = _strictly_below(significance, 0.01, 2)
    check["reason"] = _reason(check, display)
    return check


def _reason(check: dict, display: Display) -> str:
    tol = display.value(check["tolerance"], signed=False).replace(" x RMS", " x image RMS")
    sig = "exact" if check["significance"] == math.inf else f"{check['significance']:.1f}σ"
    count = f", n={check['n']}" if check["n"] is not None else ""
    head = (f"{check['mode'].upper()} {check['quantity']} "
            f"{display.with_error(check['value'], check['error'])} ({sig}{count})")
    n = f"{check['nsigma']:g}σ"
    if check["outcome"] == SIGNIFICANT:
        flip = display.value(check["flip_tolerance"], signed=False)
        return (f"{head}: detected (> {n}) and beyond the {tol} tolerance: significant; "
                f"within tolerance at a tolerance of {flip} or more")
    if check["outcome"] == DETECTED_WITHIN:
        flip = display.value(check["flip_tolerance"], signed=False)
        return (f"{head}: detected (> {n}), within the {tol} tolerance; significant at a "
                f"tolerance of {flip} or less")
    upper = abs(check["value"]) + check["nsigma"] * check["error"]
    caveat = (f"; cannot exclude a change up to {display.value(upper, signed=False)}, beyond "
              f"the tolerance" if upper > check["tolerance"] else "")
    flip = (f"detected at --nsigma {check['flip_nsigma']:.2f} or less"
            if check["flip_nsigma"] is not None else "no nsigma detects it")
    return f"{head}: not detected (≤ {n}), tolerance {tol}; no tolerance flips this, {flip}{caveat}"


def checks_for(mode: str, numbers: dict, criterion: Criterion) -> list[dict]:
    checks = [judge(mode, label, get_in(numbers, *path), parameter, display, criterion)
              for path, label, parameter, display in COMPONENT_QUANTITIES]
    ratio = numbers.get("rms_ratio")
    if ratio and number(ratio.get("mean")) is not None:
        change = {"mean": ratio["mean"] - 1.0, "mean_err": ratio.get("mean_err")}
        checks.append(judge(mode, RMS_RATIO_LABEL, change,
                            "rms_ratio_threshold", RATIO_CHANGE, criterion, counted=False))
    return [c for c in checks if c is not None]


def most_severe(outcomes: list[str]) -> str:
    judged = [o for o in outcomes if o != INSUFFICIENT]
    return min(judged, key=VERDICTS.index) if judged else INSUFFICIENT


def verdict_of(checks: list[dict]) -> tuple[str, list[str]]:
    """The most severe outcome of the judged checks, with the reason lines behind it."""
    if not checks:
        return INSUFFICIENT, ["no paired numbers to test (no compare.json, or empty fits)"]
    verdict = most_severe([c["outcome"] for c in checks])
    insufficient = [c["reason"] for c in checks if c["outcome"] == INSUFFICIENT]
    if verdict == INSUFFICIENT:
        return verdict, insufficient
    primary_missing = [c["reason"] for c in checks if c["outcome"] == INSUFFICIENT
                       and c["quantity"] in PRIMARY_QUANTITIES]
    if verdict == NOT_DETECTED and primary_missing:
        return INSUFFICIENT, insufficient + [
            "nothing else detected: " + c["reason"] for c in checks if c["outcome"] == NOT_DETECTED]
    if verdict == NOT_DETECTED:
        closest = max((c for c in checks if c["outcome"] == NOT_DETECTED),
                      key=lambda c: c["significance"])
        others = sum(1 for c in checks if c["outcome"] == NOT_DETECTED) - 1
        reasons = [closest["reason"]] + ([f"{others} other quantities, none detected either"]
                                         if others else [])
    else:
        reasons = [c["reason"] for c in checks if c["outcome"] == verdict]
    return verdict, reasons + insufficient


def combined_verdict(parts: dict[str, dict], name_parts: bool = True) -> tuple[str, list[str]]:
    """The most severe verdict of named parts (modes of a tile, tiles of a scope), with the
    reasons of the parts that have it; the parts' insufficient-data notes are kept."""
    verdict = most_severe([p["verdict"] for p in parts.values()])

    def lines(wanted: str) -> list[str]:
        return [f"{name}: {r}" if name_parts else r for name, p in parts.items()
                if p["verdict"] == wanted for r in p["reasons"]]

    reasons = lines(verdict)
    if verdict != INSUFFICIENT:
        reasons += lines(INSUFFICIENT)
    return verdict, reasons
