"""Robust statistics shared by the stages."""

from __future__ import annotations

import math

import numpy as np

# 1 / Phi^-1(3/4): turns a median absolute deviation into a Gaussian-equivalent sigma.
MAD_TO_SIGMA = 1.4826


def mad_sigma(values: np.ndarray, centre: float) -> float:
    """MAD_TO_SIGMA x the median absolute deviation of ``values`` from ``centre``."""
    return MAD_TO_SIGMA * float(np.median(np.abs(values - centre)))


def robust_rms(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (Gaussian-equivalent)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return mad_sigma(v, np.median(v))


def median_with_error(values) -> dict:
    """Median, 1.4826 x MAD and the median's uncertainty, of the finite values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "median": None, "robust_sigma": None, "median_err": None}
    median = float(np.median(x))
    sigma = mad_sigma(x, median)
    # the median of a normal sample scatters sqrt(pi/2) more than its mean
    return {"n": int(x.size), "median": median, "robust_sigma": sigma,
            "median_err": math.sqrt(math.pi / 2.0) * sigma / math.sqrt(x.size)}
