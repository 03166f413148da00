"""characterize's statistic and decision: binned normalised amplitude against uv-distance,
and the memo's rule applied to the binned medians (docs/characterize.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calmodel.core.stats import mad_sigma

DECISIONS = ("point", "uvrange", "model-needed", "insufficient-coverage")
# sqrt(pi/2) to four digits: the standard error of a median is this times scatter / sqrt(N).
MEDIAN_ERROR_FACTOR = 1.2533


@dataclass
class BinnedCurve:
    """Binned normalised amplitude; per-bin lists (None where a bin is empty)."""

    edges: list[float]
    centres: list[float]
    count: list[int]
    median_dev: list[float | None]
    sigma: list[float | None]
    scatter: list[float | None]
    in_band: list[bool]
    populated: list[bool]
    deviates: list[bool]


def bin_edges(uvd: np.ndarray, band: tuple[float, float], nbins: int,
              binning: str = "linear") -> np.ndarray:
    """Bin edges in klambda; the band edges are always bin edges, so no bin straddles them.

    linear:   width w = (hi - lo) / nbins, edges lo + k*w covering all the data (>= 0).
    quantile: nbins equal-count bins inside the band; below and above it, equal-count bins
              holding about as many visibilities as an in-band bin (at least one bin each).
              Falls back to linear when the band holds fewer than nbins visibilities.
    """
    lo, hi = band
    umin, umax = float(uvd.min()), float(uvd.max())
    inside = uvd[(uvd >= lo) & (uvd < hi)]
    if binning == "quantile" and inside.size >= nbins:
        per = inside.size / nbins
        parts = []
        for a, b, vals in ((min(umin, lo), lo, uvd[uvd < lo]), (lo, hi, inside),
                           (hi, max(umax, hi) * (1 + 1e-6), uvd[uvd >= hi])):
            if vals.size == 0:
                parts.append([a, b] if (a, b) == (lo, hi) else [])
                continue
            k = nbins if (a, b) == (lo, hi) else max(1, round(vals.size / per))
            q = np.quantile(vals, np.linspace(0, 1, k + 1))
            q[0], q[-1] = a, b
            parts.append(list(q))
        edges = np.unique(np.concatenate([np.asarray(p, float) for p in parts if p]))
        return edges
    width = (hi - lo) / nbins
    kmin = min(0, math.floor((umin - lo) / width))
    kmax = max(nbins, math.floor((umax - lo) / width) + 1)
    edges = lo + width * np.arange(kmin, kmax + 1)
    if edges[0] < 0:  # the first bin starts at 0 (and is narrower)
        edges = np.concatenate([[0.0], edges[edges > 0]])
    return edges


def binned_curve(uvd: np.ndarray, namp: np.ndarray, edges: np.ndarray,
                 band: tuple[float, float], threshold: float, nsigma: float,
                 min_count: int) -> BinnedCurve:
    """Per bin [e_i, e_i+1): median of the normalised amplitude minus 1, the robust scatter
    1.4826 * MAD, the median's uncertainty 1.2533 * scatter / sqrt(N) (sqrt(pi/2): standard
    error of a median), and whether the bin deviates."""
    idx = np.searchsorted(edges, uvd, side="right") - 1
    lo, hi = band
    eps = 1e-9 * max(1.0, hi)
    curve = BinnedCurve([float(e) for e in edges], [], [], [], [], [], [], [], [])
    order = np.argsort(idx, kind="stable")
    splits = np.searchsorted(idx[order], np.arange(len(edges)))
    for i in range(len(edges) - 1):
        vals = namp[order[splits[i]:splits[i + 1]]].astype(np.float64)
        n = int(vals.size)
        centre = 0.5 * (edges[i] + edges[i + 1])
        curve.centres.append(float(centre))
        curve.count.append(n)
        curve.in_band.append(bool(edges[i] >= lo - eps and edges[i + 1] <= hi + eps))
        curve.populated.append(n >= min_count)
        if n == 0:
            curve.median_dev.append(None)
            curve.sigma.append(None)
            curve.scatter.append(None)
            curve.deviates.append(False)
            continue
        med = float(np.median(vals))
        scatter = mad_sigma(vals, med)
        sigma = MEDIAN_ERROR_FACTOR * scatter / math.sqrt(n)
        dev = med - 1.0
        curve.median_dev.append(dev)
        curve.sigma.append(sigma)
        curve.scatter.append(scatter)
        curve.deviates.append(bool(n >= min_count and abs(dev) > threshold
                                   and abs(dev) > nsigma * sigma))
    return curve


def fmt_klambda(x: float) -> str:
    return f"{round(x, 2):g}"


def clean_range(curve: BinnedCurve, band: tuple[float, float]) -> tuple[float | None, float | None]:
    """The widest run of non-deviating bins that contains the band: (lower, upper) klambda,
    None for no cut on that side."""
    lo, hi = band
    e = curve.edges
    below = [i for i, c in enumerate(curve.centres) if c < lo]
    above = [i for i, c in enumerate(curve.centres) if c > hi]
    lower: float | None = None
    for i in reversed(below):
        if curve.deviates[i]:
            lower = e[i + 1]
            break
    upper: float | None = None
    for i in above:
        if curve.deviates[i]:
            upper = e[i]
            break
    return lower, upper


def decide(curve: BinnedCurve, band: tuple[float, float], fraction_in_band: float,
           min_bins: int, min_fraction: float) -> tuple[str, dict, str | None, list | None]:
    """(decision, coverage, suggested uvrange string, [lower, upper] klambda)."""
    populated_in = sum(1 for p, b in zip(curve.populated, curve.in_band) if p and b)
    coverage = {"status": "ok", "populated_bins_in_band": populated_in,
                "fraction_in_band": fraction_in_band, "min_bins": min_bins,
                "min_fraction": min_fraction}
    if populated_in < min_bins or fraction_in_band < min_fraction:
        coverage["status"] = "insufficient"
        return "insufficient-coverage", coverage, None, None
    if any(d and b for d, b in zip(curve.deviates, curve.in_band)):
        return "model-needed", coverage, None, None
    if not any(curve.deviates):
        return "point", coverage, None, None
    lower, upper = clean_range(curve, band)
    if lower is not None and upper is not None:
        text = f"{fmt_klambda(lower)}~{fmt_klambda(upper)}klambda"
    elif lower is not None:
        text = f">{fmt_klambda(lower)}klambda"
    else:
        text = f"<{fmt_klambda(upper)}klambda"
    return "uvrange", coverage, text, [lower, upper]


def max_abs_deviation(curve: BinnedCurve, in_band: bool) -> float | None:
    vals = [abs(d) for d, b, p in zip(curve.median_dev, curve.in_band, curve.populated)
            if p and b == in_band and d is not None]
    return max(vals) if vals else None
