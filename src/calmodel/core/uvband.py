"""Where a calibrator's structure matters: the memo's uv-distance band, mapped to the data.

VLASS Memo 19's rule (a >3% deviation from a point source between 35 and 90 klambda needs a
model) was made for VLASS: the VLA in B configuration at 2-4 GHz (3 GHz centre). Those
edges are 31% and 81% of B configuration's longest baseline at 3 GHz (11.1 km = 111
klambda): the bulk of the array's baselines, which a uvrange cut cannot drop. For other data
the band keeps that meaning when it scales with both the observing frequency and the size
of the array:

    band_scale = (centre frequency / 3 GHz) x (longest antenna separation / 11.1 km)

rounded to two significant figures (the band's edges are not known better than that, and
it keeps VLASS-like data, B configuration at 3 GHz, at exactly 1). The centre frequency
is the mean of the lowest and highest channel frequency of all spectral windows; the
longest separation is between any two antennas of the ANTENNA table (the configuration,
not one observation's projected baselines). NGC5921.fits (D configuration, 1.03 km; 1.413
GHz) gets 0.044, i.e. 1.5-4.0 klambda; 3C273XC1.fits (C configuration, 3.7 km; 8.085 GHz)
gets 0.90, i.e. 32-81 klambda. Sources: VLA configuration sizes from the NRAO VLA Observational
Status Summary (B: 11.1 km); VLASS band 2-4 GHz (Lacy et al. 2020, PASP 132, 035001).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel.core.ms import longest_antenna_separation, spw_info

VLASS_CENTRE_HZ = 3.0e9
VLA_B_LONGEST_BASELINE_M = 11.1e3
SIGNIFICANT_FIGURES = 2


@dataclass(frozen=True)
class BandScale:
    scale: float
    centre_hz: float | None
    longest_baseline_m: float | None
    reason: str

    def as_record(self) -> dict:
        return {"band_scale": self.scale, "centre_hz": self.centre_hz,
                "longest_baseline_m": self.longest_baseline_m, "reason": self.reason}


def _round_significant(value: float, figures: int = SIGNIFICANT_FIGURES) -> float:
    return round(value, figures - 1 - int(math.floor(math.log10(abs(value)))))


def scale_from(centre_hz: float, longest_baseline_m: float) -> float:
    """The rule of the module docstring, from its two numbers."""
    return _round_significant(centre_hz / VLASS_CENTRE_HZ * longest_baseline_m / VLA_B_LONGEST_BASELINE_M)


def band_scale_for(ms: Path, given: float | None = None) -> BandScale:
    """The factor on the memo's band edges for ``ms``: ``given`` if the user gave one, else
    the rule of the module docstring."""
    if given is not None:
        return BandScale(float(given), None, None, "given")
    freqs = np.concatenate([w.chan_freqs_hz for w in spw_info(ms)])
    centre = float(freqs.min() + freqs.max()) / 2.0
    longest = longest_antenna_separation(ms)
    scale = scale_from(centre, longest)
    reason = (f"from the data: centre {centre / 1e9:.4g} GHz / 3 GHz x longest antenna separation "
              f"{longest / 1e3:.3g} km / 11.1 km (VLASS: VLA B configuration at 3 GHz), two significant figures")
    return BandScale(scale, centre, longest, reason)
