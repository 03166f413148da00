"""Settings of the build-model stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildModelSettings:
    field: str | None = None  # default: the gain calibrator (core.roles), else the only field
    refant: str = ""
    nsigma_start: float = 30.0  # first (shallow) clean depth, in units of the residual RMS
    nsigma_floor: float = 3.0  # deepest clean
    reffreq_ghz: float = 3.0
    imsize: int | None = None  # default from the data: 32 beams across
    cell_arcsec: float | None = None  # default: 5 pixels across the synthesised beam
    mask_threshold_sigma: float = 10.0
    expand_mask: bool = True
    max_rms_growth: float = 0.05
    max_beam_change: float = 0.05
    max_negative_fraction: float = 0.10
    bandpass_field: str | None = None  # default: the CALIBRATE_BANDPASS/FLUX field, if any
    component_threshold: float = 1e-3  # of the model's peak pixel
    normalise: bool = False  # scale model.cl to 1 Jy total (for flux bootstrapping)
    minsnr: float = 3.0
    # nterms 2 only above this fractional bandwidth (core.wideband: the rule and its reason)
    min_fractional_bandwidth: float = 0.15
