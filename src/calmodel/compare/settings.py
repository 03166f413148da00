"""Settings of the compare stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.core.options import bounded


@dataclass(frozen=True)
class CompareSettings:
    match_radius_arcsec: float = bounded(0.5, low=0, low_open=True)  # as the memo
    outlier_sigma: float = bounded(5.0, low=0, low_open=True)  # outliers: fractional Total_flux difference beyond this
    bright_flux_jy: float | None = bounded(None, low=0)  # default: the brightest 5% of the nomodel catalogue
    rms_jy: float | None = bounded(None, low=0, low_open=True)  # default: image_rms_jy_per_beam from catalog.json
    truth_field: str | None = None  # use only truth rows of this field
    completeness_snr: float = bounded(5.0, low=0)  # completeness counts truth components above this S/N
    bright_snr: float = bounded(20.0, low=0)  # "bright" truth components for flux ratio and completeness
