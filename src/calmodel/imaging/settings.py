"""Settings of the image stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.core.options import bounded

# Per-mode defaults (docs/imaging.md explains each), used where a setting is None.
PIXELS_PER_FRINGE = {"ql": 2.0, "se": 2.5}  # pixels across lambda_min / B_max
# QL stops at 4 x the residual RMS and runs minor cycles of at most 500 iterations with
# cyclefactor 2, as the VLASS QL heuristics (NRAO pipeline, ImageParamsHeuristicsVlassQl).
NSIGMA = {"ql": 4.0, "se": 3.0}
QL_CYCLES = {"cycleniter": 500, "cyclefactor": 2.0, "scales": [0]}
# Mosaics (several phase centres in one image; docs/imaging.md "Mosaics"): gridder per mode and
# its options. QL as the VLASS QL recipe: the `mosaic` gridder. SE: VLASS-SE uses `awproject`
# (wideband A-projection); here `mosaic` too. Both with specmode 'mvc' (each channel gridded
# with its own beam, Taylor terms fitted to the cube): CASA 6.7's mosaic gridder has no
# conjbeams for 'mfs', and with 'mfs' our mosaics' cleans diverged (docs/imaging.md "Mosaics").
MOSAIC_GRIDDER = {"ql": {"gridder": "mosaic", "conjbeams": False, "specmode": "mvc"},
                  "se": {"gridder": "mosaic", "conjbeams": False, "specmode": "mvc"}}
# A mosaic's minor cycles end on cyclethreshold (cyclefactor x PSF sidelobe x peak residual),
# not after 500 iterations: a major cycle of an mvc mosaic costs ~45 s here against ~1 s for a
# pointed field, and with 500 a 12-centre stripe needed > 40 of them, reaching the niter cap
# before nsigma (docs/closure.md "Mosaics"). The stopping criterion (nsigma, niter) is unchanged.
# SE mosaics use VLASS-SE-CONT's cyclefactor 3 (NRAO pipeline, ImageParamsHeuristicsVlassSeCont):
# with tclean's default 1 the acceptance stripe's self-cal model clean diverged in its third
# minor cycle (docs/closure.md "Mosaics"). Pointed SE keeps tclean's default (docs/imaging.md).
MOSAIC_CYCLES = {"ql": {"cycleniter": -1}, "se": {"cycleniter": -1, "cyclefactor": 3.0}}
MOSAIC_PBLIMIT = 0.2  # tclean's default: the mosaic image stops where the summed beam < 0.2


@dataclass(frozen=True)
class ImagingSettings:
    mode: str = "ql"
    cell_arcsec: float | None = bounded(None, low=0, low_open=True)  # default: from the data (derive_cell)
    imsize: int | None = bounded(None, low=1)  # default: nice_imsize(fov / cell)
    fov_arcmin: float = bounded(3.0, low=0, low_open=True)  # side of the square image
    pixels_per_fringe: float | None = None  # default: PIXELS_PER_FRINGE[mode]
    robust: float = bounded(1.0, low=-2, high=2)  # Briggs robust is defined on [-2, 2]
    nsigma: float | None = bounded(None, low=0)  # default: NSIGMA[mode]
    niter: int = bounded(20000, low=0)
    reffreq_ghz: float = bounded(3.0, low=0, low_open=True)  # SE (mtmfs) reference frequency
    # SE: nterms 2 only above this fractional bandwidth, else nterms 1 and NaN alpha (core.wideband)
    min_fractional_bandwidth: float = bounded(0.15, low=0)
    # SE self-cal as VLASS-SE (NRAO pipeline hifv_selfcal, selfcalmode 'VLASS-SE'): phase-only,
    # solint 'inf' (per scan), spws and fields combined, minsnr 5, applied with 'nearest'.
    selfcal_combine: str = "spw,field"  # or 'spw', or '' (per spw)
    selfcal_nsigma: float = 5.0  # depth of the shallow clean that makes the self-cal model
    selfcal_minsnr: float = 5.0
    selfcal_max_flagged: float = 0.5  # skip applying self-cal if more solutions fail
    selfcal_max_rms_increase: float = 0.05  # revert self-cal if it raises the residual RMS more
    automask: bool = True  # SE final clean inside an auto-multithresh mask (AUTOMASK)
    refant: str | None = None  # default: the antenna nearest the array centre
    keep_images: bool = False

