"""The flux-density standard for VLA primary calibrators, shared by simulate and calibrate.

`setjy` with standard 'Perley-Butler 2017' uses the band's model image from
casadata (nrao/VLA/CalModels) when it is given one, as the VLA pipeline does, so
that the slightly resolved structure of 3C286/3C138/3C147/3C48 is included.
"""

from __future__ import annotations

import math
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.casa import casadata_path, run_task

STANDARD = "Perley-Butler 2017"
# Canonical name -> the other names a field may carry (J2000 short and long, B1950), as
# in the VLA calibrator manual; setjy recognises the same names. A VLA archive field name
# may have a suffix (NGC5921's '1331+30500002_0'): names are matched as prefixes.
KNOWN_FLUX_CALIBRATORS = {
    "3C286": ("1331+305", "J1331+3030", "1328+307", "B1328+307"),
    "3C138": ("0521+166", "J0521+1638", "0518+165", "B0518+165"),
    "3C147": ("0542+498", "J0542+4951", "0538+498", "B0538+498"),
    "3C48": ("0137+331", "J0137+3309", "0134+329", "B0134+329"),
}
# J2000 positions of the same calibrators (VLA Calibrator Manual, J2000 list; the positions
# setjy's Perley-Butler 2017 model images are centred on), as (RA, Dec) in degrees.
FLUX_CALIBRATOR_POSITIONS_J2000 = {
    "3C286": (15 * (13 + 31 / 60 + 8.28806 / 3600), 30 + 30 / 60 + 32.9600 / 3600),
    "3C138": (15 * (5 + 21 / 60 + 9.88603 / 3600), 16 + 38 / 60 + 22.0512 / 3600),
    "3C147": (15 * (5 + 42 / 60 + 36.13789 / 3600), 49 + 51 / 60 + 7.2336 / 3600),
    "3C48": (15 * (1 + 37 / 60 + 41.29943 / 3600), 33 + 9 / 60 + 35.1330 / 3600),
}
# A field whose phase centre lies within this of a standard calibrator's position is that
# calibrator: pointing offsets of archival calibrator scans are arcseconds (B1950 names,
# rounded coordinates in old schedules), while the nearest pair of the four calibrators is
# 6 deg apart (3C138-3C147 is 33 deg), and any other source within 1' would be confused with
# the calibrator in the VLA's primary beam (>= 4' FWHM up to Q band) anyway.
POSITION_TOLERANCE_ARCMIN = 1.0
# VLA band letter by frequency (GHz), lower edges.
_BANDS = [(0.2, "P"), (1.0, "L"), (2.0, "S"), (4.0, "C"), (8.0, "X"), (12.0, "U"),
          (18.0, "K"), (26.5, "A"), (40.0, "Q")]


def canonical_name(field: str) -> str | None:
    """'3C286' for any of its usual field names, or None if it is not a standard calibrator."""
    upper = field.upper().replace(" ", "")
    for name, aliases in KNOWN_FLUX_CALIBRATORS.items():
        if upper == name or any(upper.startswith(alias.upper()) for alias in aliases):
            return name
    return None


def _separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle separation (degrees) of two positions given in degrees (Vincenty)."""
    ra1, dec1, ra2, dec2 = (math.radians(v) for v in (ra1, dec1, ra2, dec2))
    dra = ra2 - ra1
    num = math.hypot(math.cos(dec2) * math.sin(dra),
                     math.cos(dec1) * math.sin(dec2) - math.sin(dec1) * math.cos(dec2) * math.cos(dra))
    den = math.sin(dec1) * math.sin(dec2) + math.cos(dec1) * math.cos(dec2) * math.cos(dra)
    return math.degrees(math.atan2(num, den))


def calibrator_at(ra_deg: float, dec_deg: float,
                  tolerance_arcmin: float = POSITION_TOLERANCE_ARCMIN) -> tuple[str, float] | None:
    """(standard flux calibrator, separation in arcmin) for a J2000 position within
    ``tolerance_arcmin`` of one of them, else None."""
    for name, (ra, dec) in FLUX_CALIBRATOR_POSITIONS_J2000.items():
        separation = _separation_deg(ra_deg, dec_deg, ra, dec) * 60.0
        if separation <= tolerance_arcmin:
            return name, separation
    return None


def vla_band(freq_ghz: float) -> str:
    band = _BANDS[0][1]
    for lower, letter in _BANDS:
        if freq_ghz >= lower:
            band = letter
    return band


def model_image(source: str, freq_ghz: float) -> Path | None:
    path = casadata_path() / "nrao" / "VLA" / "CalModels" / f"{source}_{vla_band(freq_ghz)}.im"
    return path if path.is_dir() else None


def setjy_standard(vis: Path, field: str, freq_ghz: float, spw: str = "") -> dict:
    """Write the Perley-Butler 2017 model of a standard flux calibrator into MODEL_DATA."""
    source = canonical_name(field)
    if source is None:
        raise CalmodelError(f"field '{field}' in {vis} is not a Perley-Butler 2017 flux calibrator "
                            f"({', '.join(KNOWN_FLUX_CALIBRATORS)})")
    image = model_image(source, freq_ghz)
    result = run_task("setjy", f"flux standard of '{field}' in {vis}", vis=str(vis), field=field, spw=spw,
                      standard=STANDARD, model=str(image) if image else "", usescratch=True,
                      scalebychan=True)
    if not result:
        raise CalmodelError(f"setjy failed for field '{field}' in {vis}; see the CASA log")
    return {"standard": STANDARD, "source": source, "model_image": image.name if image else None}
