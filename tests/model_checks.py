"""Comparing a self-calibration model (pixel components) with the true calibrator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel.core.components import read_components
from calmodel.core.sky import Component


@dataclass
class MatchedComponent:
    true_flux: float
    model_flux: float
    offset_arcsec: float  # flux-weighted centroid of the assigned pixels minus the truth


def match_model_to_truth(model_cl: Path, truth: list[Component], radius_arcsec: float = 2.0
                         ) -> list[MatchedComponent]:
    """Assign each model pixel to the nearest true component (within ``radius_arcsec``)."""
    model = read_components(model_cl)
    dec0 = np.radians(truth[0].dec_deg)
    mx = np.array([c.ra_deg for c in model]) * np.cos(dec0) * 3600
    my = np.array([c.dec_deg for c in model]) * 3600
    flux = np.array([c.flux_jy for c in model])
    tx = np.array([c.ra_deg for c in truth]) * np.cos(dec0) * 3600
    ty = np.array([c.dec_deg for c in truth]) * 3600
    dist = np.hypot(mx[:, None] - tx[None, :], my[:, None] - ty[None, :])
    nearest = np.argmin(dist, axis=1)
    out = []
    for k, comp in enumerate(truth):
        sel = (nearest == k) & (dist[:, k] < radius_arcsec)
        f = flux[sel].sum()
        cx = np.sum(flux[sel] * mx[sel]) / f if f > 0 else np.nan
        cy = np.sum(flux[sel] * my[sel]) / f if f > 0 else np.nan
        out.append(MatchedComponent(comp.flux_jy, float(f), float(np.hypot(cx - tx[k], cy - ty[k]))))
    return out
