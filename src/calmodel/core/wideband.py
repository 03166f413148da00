"""How many Taylor terms the data can support: one rule for build-model and imaging.

    nterms = 2  when the data hold at least two distinct frequencies AND their fractional
                bandwidth (highest channel edge - lowest channel edge) / centre is at
                least ``min_fractional_bandwidth``
    nterms = 1  otherwise (the model's spectral index is then 0, and the record says so)

Why a fractional-bandwidth floor (the value lives in each stage's settings, 0.15): a
spectral index fitted across a band of fractional width f has an error of roughly
sqrt(2) * e / f for a per-channel amplitude error e. With e ~ 1% (the accuracy of the
Perley-Butler 2017 flux-density scale and of a good bandpass) that error is 0.1 at
f ~ 0.14, so below ~15% the second Taylor term fits calibration errors and noise, and for
a single channel mtmfs' Hessian is singular ("Non-invertible Hessian", 3C273XC1.fits).
VLASS (2-4 GHz, f = 0.67) keeps nterms 2; NGC5921 (L band, 63 channels over 1.5 MHz,
f = 0.001) and 3C273XC1 (one channel) get nterms 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel.core.casa import casa_tools


@dataclass(frozen=True)
class TaylorTerms:
    nterms: int
    n_frequencies: int
    fractional_bandwidth: float
    reason: str

    def as_record(self) -> dict:
        return {"nterms": self.nterms, "n_frequencies": self.n_frequencies,
                "fractional_bandwidth": self.fractional_bandwidth, "reason": self.reason}


def band_coverage(ms: Path) -> tuple[int, float]:
    """(number of distinct channel frequencies, fractional bandwidth) over every spw of ``ms``."""
    tb = casa_tools().tools.table()
    tb.open(str(Path(ms) / "SPECTRAL_WINDOW"))
    try:
        freqs, lows, highs = [], [], []
        for row in range(tb.nrows()):
            f = np.atleast_1d(tb.getcell("CHAN_FREQ", row)).astype(float)
            w = np.abs(np.atleast_1d(tb.getcell("CHAN_WIDTH", row)).astype(float))
            freqs.extend(f.tolist())
            lows.append(float(np.min(f - w / 2)))
            highs.append(float(np.max(f + w / 2)))
    finally:
        tb.close()
    if not freqs:
        return 0, 0.0
    low, high = min(lows), max(highs)
    return len(np.unique(np.round(freqs))), float((high - low) / (0.5 * (high + low)))


def taylor_terms(ms: Path, min_fractional_bandwidth: float, wanted: int = 2) -> TaylorTerms:
    """``wanted`` Taylor terms if the band supports them (the module's rule), else 1."""
    n_freq, frac = band_coverage(ms)
    if wanted <= 1:
        return TaylorTerms(1, n_freq, frac, "one Taylor term asked for")
    if n_freq < 2:
        return TaylorTerms(1, n_freq, frac, f"{n_freq} distinct frequency: no spectral index can be "
                                            "fitted; nterms 1")
    if frac < min_fractional_bandwidth:
        return TaylorTerms(1, n_freq, frac, f"fractional bandwidth {frac:.4f} < {min_fractional_bandwidth}: "
                                            "too narrow to constrain a spectral index; nterms 1")
    return TaylorTerms(wanted, n_freq, frac, f"fractional bandwidth {frac:.4f} >= {min_fractional_bandwidth} "
                                             f"over {n_freq} frequencies: nterms {wanted}")
