"""Which fields make one mosaic image, and the image's geometry.

A mosaic is named (``--mosaic NAME``) and its members are selected (``--fields``) by a
comma-separated list of field names or shell-style patterns (``P*``, ``P0[1-5]``); the
default is every target field of the MS (:func:`calmodel.core.roles.field_roles`). The image
is centred on the members' mean direction, and spans their phase centres plus a margin on
every side: the radius at which the primary beam (CASA's own model for the telescope) falls
to ``pblimit`` at the lowest frequency imaged, at least the pointed image's half field of
view. The `mosaic` gridder needs that: it computes each field's beam on the image grid, and an
image that does not hold the beam down to ``pblimit`` leaves it flat and the weight
normalisation wrong (measured: fluxes ~30% of the truth with a 3'-tall image of a stripe,
docs/imaging.md). The cell follows from the data as for a pointed field. Shared by QL and SE.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.ms import field_ids, field_positions_j2000
from calmodel.core.primary_beam import casa_beam
from calmodel.core.roles import field_roles
from calmodel.core.sky import ARCSEC, direction_cosines, mean_direction
from calmodel.imaging.geometry import nice_imsize

# What a --fields selection may hold: names and patterns, comma-separated, none empty or
# starting with '-' (the samplesheet's `mosaic` column is checked by the same rule,
# assets/schema_input.json, before any task runs).
_ITEM = r"[A-Za-z0-9_.+*?\[\]][A-Za-z0-9_.+*?\[\]-]*"
SELECTION = re.compile(rf"^{_ITEM}(,{_ITEM})*$")
ALL_TARGETS = "targets"


@dataclass(frozen=True)
class MosaicGeometry:
    members: list[str]
    centre_deg: tuple[float, float]
    offsets_arcsec: dict[str, tuple[float, float]]  # member -> (east, north) from the centre
    imsize: tuple[int, int]
    margin_arcsec: float

    @property
    def phasecenter(self) -> str:
        return f"J2000 {self.centre_deg[0]:.10f}deg {self.centre_deg[1]:.10f}deg"

    def as_record(self) -> dict:
        east = [e for e, _ in self.offsets_arcsec.values()]
        north = [n for _, n in self.offsets_arcsec.values()]
        return {"members": self.members, "n_members": len(self.members), "centre_deg": list(self.centre_deg),
                "phasecenter": self.phasecenter, "margin_arcsec": self.margin_arcsec,
                "extent_of_phase_centres_arcmin": [(max(east) - min(east)) / 60.0,
                                                   (max(north) - min(north)) / 60.0]}


def mosaic_members(ms: Path, selection: str | None) -> list[str]:
    """The member fields (MS field order) selected by ``selection`` among the MS's target
    fields (core.roles): None or 'targets' = all of them; else comma-separated names or
    patterns, each matching at least one target (never a calibrator a degree away)."""
    roles = field_roles(ms).require("targets", "--fields")
    targets = [n for n in dict.fromkeys(field_positions_j2000(ms)) if n in roles]
    if selection in (None, "", ALL_TARGETS):
        return targets
    if not SELECTION.match(selection):
        raise CalmodelError(f"--fields '{selection}': only names or patterns of [A-Za-z0-9_.+-*?[]], "
                            "comma-separated, none empty or starting with '-'")
    chosen: set[str] = set()
    for item in selection.split(","):
        hits = fnmatch.filter(targets, item)
        if not hits:
            raise CalmodelError(f"--fields: '{item}' matches no target field of {ms} "
                                f"(targets: {', '.join(targets)})")
        chosen.update(hits)
    return [n for n in targets if n in chosen]


def beam_radius_arcsec(ms: Path, member: str, pblimit: float, lowest_freq_hz: float) -> float:
    """Radius (arcsec) at which CASA's primary beam (power) of ``member`` falls to ``pblimit`` at
    ``lowest_freq_hz``."""
    beam = casa_beam(ms, field_ids(ms, member)[0], 0, 3600.0)
    x = np.asarray(beam.radius_freq_arcsec_ghz, float)
    gain = np.asarray(beam.gain, float)
    below = np.flatnonzero(gain < pblimit)
    if below.size == 0:
        raise CalmodelError(f"the primary beam of {member} does not fall to pblimit {pblimit} within 1 deg")
    return float(x[below[0]] / (lowest_freq_hz / 1e9))


def mosaic_geometry(ms: Path, members: list[str], cell_arcsec: float, margin_arcsec: float,
                    min_imsize: int) -> MosaicGeometry:
    """Centre (mean direction of the members) and size ([nx, ny] pixels, each a size CASA's
    FFT likes) covering the members' phase centres plus ``margin_arcsec`` on each side."""
    positions = field_positions_j2000(ms)
    ra, dec = [positions[m][0] for m in members], [positions[m][1] for m in members]
    ra0, dec0 = mean_direction(ra, dec)
    l, m, _ = direction_cosines(np.array(ra), np.array(dec), ra0, dec0)
    east, north = l / ARCSEC, m / ARCSEC
    width = 2.0 * (np.max(np.abs(east)) + margin_arcsec)
    height = 2.0 * (np.max(np.abs(north)) + margin_arcsec)
    imsize = (nice_imsize(max(width / cell_arcsec, min_imsize)), nice_imsize(max(height / cell_arcsec, min_imsize)))
    return MosaicGeometry(members, (ra0, dec0),
                          {name: (float(e), float(n)) for name, e, n in zip(members, east, north)},
                          imsize, margin_arcsec)
