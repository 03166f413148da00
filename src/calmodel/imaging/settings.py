"""Settings of the image stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass

# Per-mode defaults (docs/imaging.md explains each), used where a setting is None.
PIXELS_PER_FRINGE = {"ql": 2.0, "se": 2.5}  # pixels across lambda_min / B_max
NSIGMA = {"ql": 4.5, "se": 3.0}


@dataclass(frozen=True)
class ImagingSettings:
    mode: str = "ql"
    cell_arcsec: float | None = None  # default: from the data (derive_cell)
    imsize: int | None = None  # default: nice_imsize(fov / cell)
    fov_arcmin: float = 3.0  # side of the square image
    pixels_per_fringe: float | None = None  # default: PIXELS_PER_FRINGE[mode]
    robust: float = 1.0
    nsigma: float | None = None  # default: NSIGMA[mode]
    niter: int = 20000
    reffreq_ghz: float = 3.0  # SE (mtmfs) reference frequency
    # SE: nterms 2 only above this fractional bandwidth, else nterms 1 and NaN alpha (core.wideband)
    min_fractional_bandwidth: float = 0.15
    selfcal_combine: str = ""  # '' (per spw, per scan, as VLASS-SE) or 'spw'
    selfcal_nsigma: float = 5.0  # depth of the shallow clean that makes the self-cal model
    selfcal_minsnr: float = 3.0
    selfcal_max_flagged: float = 0.5  # skip applying self-cal if more solutions fail
    selfcal_max_rms_increase: float = 0.05  # revert self-cal if it raises the residual RMS more
    automask: bool = True  # SE final clean inside an auto-multithresh mask (AUTOMASK)
    refant: str | None = None  # default: the antenna nearest the array centre
    keep_images: bool = False

