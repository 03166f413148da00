"""Combining the numbers of parts (the fields of a tile, the tiles of a scope).

A fit is compare's Gaussian-core fit ``{mean, mean_err, sigma, sigma_err, n, n_core}``;
a centre is compare's robust statistics ``{median, robust_sigma, median_err, n}``.
"""

from __future__ import annotations

import math

from calmodel.report.values import number


def _empty_combination(fits: list[dict]) -> dict:
    return {"mean": None, "mean_err": None, "sigma": None, "sigma_err": None,
            "n": int(sum(number(f.get("n")) or 0 for f in fits)),
            "n_core": int(sum(number(f.get("n_core")) or 0 for f in fits)),
            "n_parts": 0, "chi2_dof": None}


def combine_fits(fits: list[dict]) -> dict:
    """Inverse-variance weighted mean of the parts' means; its error is scaled up by
    max(1, sqrt(chi2/dof)) when the parts disagree more than their errors allow (Birge
    ratio); sigma is the rms of the pooled components about the combined mean (the width of
    the pooled histogram); counts add."""
    fits = [f for f in fits if isinstance(f, dict)]
    out = _empty_combination(fits)
    usable = [f for f in fits
              if number(f.get("mean")) is not None and number(f.get("mean_err")) is not None]
    out["n_parts"] = len(usable)
    if not usable:
        return out
    if len(usable) == 1:
        out.update({k: number(usable[0].get(k)) for k in ("mean", "mean_err", "sigma", "sigma_err")})
        return out
    exact = [f for f in usable if f["mean_err"] == 0.0]
    if exact:  # an exact part fixes the mean: weights would be infinite
        mean, err = sum(f["mean"] for f in exact) / len(exact), 0.0
    else:
        weights = [1.0 / f["mean_err"] ** 2 for f in usable]
        total = sum(weights)
        mean = sum(w * f["mean"] for w, f in zip(weights, usable)) / total
        chi2 = sum(w * (f["mean"] - mean) ** 2 for w, f in zip(weights, usable))
        out["chi2_dof"] = chi2 / (len(usable) - 1)
        err = 1.0 / math.sqrt(total)
        err *= max(1.0, math.sqrt(out["chi2_dof"]))
    out["mean"], out["mean_err"] = mean, err
    with_spread = [f for f in usable if number(f.get("sigma")) is not None]
    if with_spread:
        counts = [max(1, int(number(f.get("n_core")) or 1)) for f in with_spread]
        n_core = sum(counts)
        variance = sum(c * (f["sigma"] ** 2 + (f["mean"] - mean) ** 2)
                       for c, f in zip(counts, with_spread)) / n_core
        out["sigma"] = math.sqrt(variance)
        out["sigma_err"] = out["sigma"] / math.sqrt(2.0 * (n_core - 1)) if n_core > 1 else None
    return out


def centre_as_fit(centre: dict | None) -> dict | None:
    """compare's robust statistics in the shape of a fit (median as the mean)."""
    if not isinstance(centre, dict):
        return None
    return {"mean": number(centre.get("median")), "mean_err": number(centre.get("median_err")),
            "sigma": number(centre.get("robust_sigma")), "sigma_err": None,
            "n": centre.get("n") or 0, "n_core": centre.get("n") or 0}


def combine_centres(parts: list[dict]) -> dict:
    """Count-weighted mean of the parts' medians, with the pooled spread about it."""
    parts = [p for p in parts if isinstance(p, dict) and number(p.get("median")) is not None]
    if not parts:
        return {"median": None, "robust_sigma": None, "median_err": None, "n": 0}
    if len(parts) == 1:
        return dict(parts[0])
    counts = [max(1, int(p.get("n") or 1)) for p in parts]
    total = sum(counts)
    centre = sum(c * p["median"] for c, p in zip(counts, parts)) / total
    variance = sum(c * ((number(p.get("robust_sigma")) or 0.0) ** 2 + (p["median"] - centre) ** 2)
                   for c, p in zip(counts, parts)) / total
    errors = [(c / total * p["median_err"]) ** 2 for c, p in zip(counts, parts)
              if number(p.get("median_err")) is not None]
    return {"median": centre, "robust_sigma": math.sqrt(variance),
            "median_err": math.sqrt(sum(errors)) if errors else None, "n": total}


def difference_of_means(a: dict | None, b: dict | None) -> dict | None:
    """a - b with the errors added in quadrature (independent parts)."""
    if not a or not b or a.get("mean") is None or b.get("mean") is None:
        return None
    ea, eb = a.get("mean_err"), b.get("mean_err")
    err = math.hypot(ea, eb) if ea is not None and eb is not None else None
    return {"value": a["mean"] - b["mean"], "error": err}


def median_value(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])
