"""Settings of the compare stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompareSettings:
    match_radius_arcsec: float = 0.5  # as the memo
    outlier_sigma: float = 5.0  # outliers: fractional Total_flux difference beyond this
    bright_flux_jy: float | None = None  # default: the brightest 5% of the nomodel catalogue
    rms_jy: float | None = None  # default: image_rms_jy_per_beam from catalog.json
    truth_field: str | None = None  # use only truth rows of this field
    completeness_snr: float = 5.0  # completeness counts truth components above this S/N
    bright_snr: float = 20.0  # "bright" truth components for flux ratio and completeness
