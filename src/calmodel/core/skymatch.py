"""Matching two lists of sky positions one-to-one (compare's arms, the report's truth)."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord


def sky_coords(ra_deg, dec_deg) -> SkyCoord:
    return SkyCoord(np.atleast_1d(np.asarray(ra_deg, float)) * u.deg,
                    np.atleast_1d(np.asarray(dec_deg, float)) * u.deg)


def match_one_to_one(a: SkyCoord, b: SkyCoord, radius_arcsec: float):
    """Indices (ia, ib) and separations (arcsec) of mutual nearest neighbours within radius:
    a component is paired only with the one that also has it as its nearest, so a blend in
    one list never takes two partners."""
    empty = np.zeros(0, int)
    if len(a) == 0 or len(b) == 0:
        return empty, empty, np.zeros(0)
    ab, sep, _ = a.match_to_catalog_sky(b)
    ba, _, _ = b.match_to_catalog_sky(a)
    ia = np.arange(len(a))
    keep = (sep.arcsec <= radius_arcsec) & (ba[ab] == ia)
    return ia[keep], ab[keep], sep.arcsec[keep]
