"""Image geometry of the image stage: cell size from the data, image sizes CASA likes."""

from __future__ import annotations

import math

from calmodel import CalmodelError
from calmodel.core.ms import UvExtent


def nice_imsize(n: int) -> int:
    """Smallest 5 * 2^a * 3^b (a >= 1: even) that is >= n: sizes CASA's FFTs like."""
    n = max(int(math.ceil(n)), 10)
    best = None
    p2 = 2
    while 5 * p2 < 2 * n + 10:
        value = 5 * p2
        while value < n:
            value *= 3
        if best is None or value < best:
            best = value
        p2 *= 2
    return int(best)


def round_cell(cell_arcsec: float) -> float:
    """Round a cell down to two significant digits (0.731 -> 0.73, 1.46 -> 1.4): never coarser
    than computed, so the uv grid still reaches the longest baseline."""
    if not cell_arcsec > 0:
        raise CalmodelError(f"cell size must be positive, not {cell_arcsec}")
    step = 10.0 ** (math.floor(math.log10(cell_arcsec)) - 1)
    return round(math.floor(cell_arcsec / step + 1e-9) * step, 10)


def derive_cell(extent: UvExtent, pixels_per_fringe: float) -> float:
    """Cell (arcsec) = (lambda_min / B_max) / pixels_per_fringe, rounded down.

    2 pixels per finest fringe is Nyquist sampling of the longest baseline at the top of
    the band: the uv grid then holds every visibility."""
    if extent.max_baseline_m <= 0:
        raise CalmodelError("cannot derive a cell size: no baseline longer than 0 m")
    return round_cell(extent.finest_fringe_arcsec / pixels_per_fringe)
