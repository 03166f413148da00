"""Is a tile inside the memo's conclusion? (memo Section 5: the calibrator's central
component is > 10x any secondary component.)

The calibrator's components come from the truth for a simulated tile
(``truth/calibrator.json`` beside tile.json) or else from the calibrator model, when
build_model.json lists its components (``components``: ra_deg, dec_deg, flux_jy; the
model is one component per pixel, so touching pixels are first grouped into islands).
The ratio is the brightest component's flux over the next brightest; with one component
the calibrator is a point and the ratio is infinite.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from calmodel.core.constants import RAD_TO_ARCSEC
from calmodel.core.io import read_json_object
from calmodel.report.values import get_in, number

def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


IN_SCOPE, OUT_OF_SCOPE, UNKNOWN_SCOPE = "in-scope", "out-of-scope", "scope-unknown"
SCOPES = (IN_SCOPE, OUT_OF_SCOPE, UNKNOWN_SCOPE)
# model pixels closer than this many cells belong to one component (diagonal neighbours too)
PIXEL_LINK_CELLS = 1.5


def component_list(items, positive_only: bool = True) -> list[tuple[float, float, float]]:
    """(ra_deg, dec_deg, flux_jy) of each well-formed item of a record's ``components``;
    only positive ones unless ``positive_only`` is False."""
    out = []
    for item in items if isinstance(items, list) else []:
        ra, dec, flux = (number(get_in(item, k)) for k in ("ra_deg", "dec_deg", "flux_jy"))
        if None not in (ra, dec, flux) and (flux > 0 or not positive_only):
            out.append((ra, dec, flux))
    return out


def _islands(components: list[tuple], link_arcsec: float) -> list[tuple]:
    """Touching pixels summed into one component at their flux-weighted position."""
    ra, dec, flux = (np.array(c) for c in zip(*components))
    vectors = unit_vectors(ra, dec)
    pairs = cKDTree(vectors).query_pairs(link_arcsec / RAD_TO_ARCSEC, output_type="ndarray")
    n = len(components)

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    islands = []
    for label in np.unique(labels):
        members = labels == label
        weights = flux[members]
        islands.append((float(np.average(ra[members], weights=weights)),
                        float(np.average(dec[members], weights=weights)), float(weights.sum())))
    return islands


def _separation_arcsec(a: tuple, b: tuple) -> float:
    va, vb = unit_vectors(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    return float(math.acos(min(1.0, float(np.dot(va, vb)))) * RAD_TO_ARCSEC)


def dominance(components: list[tuple], source: str, ratio_needed: float) -> dict:
    ranked = sorted(components, key=lambda c: -c[2])
    out = {"source": source, "n_components": len(ranked),
           "brightest_flux_jy": ranked[0][2], "secondary_flux_jy": None, "ratio": None,
           "separation_arcsec": None}
    if len(ranked) == 1:
        out["ratio"] = math.inf
    else:
        out.update(secondary_flux_jy=ranked[1][2], ratio=ranked[0][2] / ranked[1][2],
                   separation_arcsec=_separation_arcsec(ranked[0], ranked[1]))
    out["scope"] = IN_SCOPE if out["ratio"] > ratio_needed else OUT_OF_SCOPE
    return out


def truth_calibrator(simulation) -> tuple[list[tuple[float, float, float]], str] | None:
    """The simulated calibrator's components (ra, dec, flux) and the file's name, from the
    tile's simulate Record; None without one or without truth/calibrator.json."""
    if simulation is None:
        return None
    relative = get_in(simulation.data, "truth", "calibrator") or "truth/calibrator.json"
    path = Path(simulation.path).parent / relative
    if not path.is_file():
        return None
    components = component_list(read_json_object(path).get("components"))
    return (components, path.name) if components else None


def scope_of_tile(simulation, build_model, ratio_needed: float) -> dict:
    """``simulation``/``build_model``: the tile's Record of that stage, or None."""
    truth = truth_calibrator(simulation)
    if truth is not None:
        components, name = truth
        return dominance(components, f"truth ({name})", ratio_needed)
    if build_model is not None:
        components = component_list(build_model.data.get("components"))
        cell = number(build_model.data.get("cell_arcsec"))
        if components and cell:
            return dominance(_islands(components, PIXEL_LINK_CELLS * cell),
                             "calibrator model (build_model.json components)", ratio_needed)
    return {"source": None, "scope": UNKNOWN_SCOPE, "ratio": None, "separation_arcsec": None,
            "why": "no truth/calibrator.json beside tile.json and no components in "
                   "build_model.json"}
