"""Settings of the catalog stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.core.options import bounded


@dataclass(frozen=True)
class CatalogSettings:
    thresh_isl: float = bounded(3.0, low=0, low_open=True)  # PyBDSF island threshold (sigma), as VLASS
    thresh_pix: float = bounded(5.0, low=0, low_open=True)  # PyBDSF peak threshold (sigma), as VLASS
    rms_box: tuple[int, int] | None = None  # default: VLASS (200, 50) scaled to the image
    allow_empty: bool = False  # write an empty catalogue when no source is found
    ncores: int = bounded(1, low=1)  # cores PyBDSF may use
