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
    # A model is chosen only if its negative clean flux is <= 1.5% of its positive flux. Why:
    # clean's noise components come in both signs, so a model holding N of negative flux holds
    # about as much spurious positive flux; its visibilities can then be wrong by ~2N/P, and
    # the memo's own criterion for a model being needed is a 3% amplitude deviation. Beyond
    # that the loop steps back to a longer solint, as the memo did (Section 3.1).
    max_negative_fraction: float = 0.015
    bandpass_field: str | None = None  # default: the CALIBRATE_BANDPASS/FLUX field, if any
    component_threshold: float = 1e-3  # |pixel| / model peak below which model.cl drops a pixel
    normalise: bool = False  # scale model.cl to 1 Jy total (for flux bootstrapping)
    minsnr: float = 3.0
    # nterms 2 only above this fractional bandwidth (core.wideband: the rule and its reason)
    min_fractional_bandwidth: float = 0.15
