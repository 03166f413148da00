"""Settings of the catalog stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogSettings:
    thresh_isl: float = 3.0  # PyBDSF island threshold (sigma), as VLASS
    thresh_pix: float = 5.0  # PyBDSF peak threshold (sigma), as VLASS
    rms_box: tuple[int, int] | None = None  # default: VLASS (200, 50) scaled to the image
    allow_empty: bool = False  # write an empty catalogue when no source is found
    ncores: int = 1  # cores PyBDSF may use
