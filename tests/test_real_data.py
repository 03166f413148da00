"""The real VLA observations that ship in casadata, run as a new user would: no field names,
no scan intents, no options beyond --ms and --out (issue 12).

Criteria and tolerances were chosen from the sources named here before the runs.

Run times on the shared 2-core machine when written: NGC5921 calibrate 17 s alone (37 s as a
test beside another test run), 3C273XC1 build-model 40 s alone (80 s) - both in the default
run; NGC5921 calibrate + SE image 90 s alone (113 s), marked slow since it repeats the
calibration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import VENV_BIN, run

# NGC5921 fluxscale reference: the CASA NGC5921 use-case/tutorial script (ngc5921_usecase.py,
# STM 2007, the CASA cookbook's running example) quotes
#     "Flux density for 1445+09900002_0 in SpW=0 is: 2.48576 +/- 0.00123122".
# That run used the setjy standard of its day (Perley-Taylor 1999), whose 3C286 flux at
# 1.41 GHz is within ~1% of Perley-Butler 2017 (ours). Tolerance 5%: the 1% difference of the
# standards, plus different channel ranges/solints/refant than the script, well inside the
# few-percent absolute accuracy of VLA flux bootstrapping at L band.
N5921_GAINCAL_REFERENCE_JY = 2.48576
N5921_TOLERANCE = 0.05

# 3C273: a bright core with a one-sided jet to the south-west, extending to ~20" (Davis et
# al. 1985, as summarised by Mantovani et al. 1999, A&A 346, 397, section 1), at position
# angle ~222 deg (-138 deg; the jet/hot spot A direction of VLA/MERLIN images, Conway et al.
# 1993, ApJ 419, 111), with no counter-jet detected. The checks:
#   - the brightest model component within 1" (under half the ~2.5" C-configuration X-band
#     beam) of the phase centre, which is the catalogued position of 3C273 (the core);
#   - in the annulus 3"-25" from the core (outside the core's beam, out to the jet's end),
#     the flux in a +/-30 deg sector about PA 222 deg is at least 1% of the total and at least
#     10 times the flux in the opposite sector (PA 42 deg): a deliberately weak one-sidedness
#     floor, since the literature's jet/counter-jet limits are far larger;
#   - the flux-weighted mean PA of that annulus is within 20 deg of 222 deg (the jet wiggles
#     by a few degrees about its axis).
JET_PA_DEG = 222.0
CORE_TOLERANCE_ARCSEC = 1.0
ANNULUS_ARCSEC = (3.0, 25.0)
SECTOR_HALF_WIDTH_DEG = 30.0
MIN_JET_FRACTION = 0.01
MIN_JET_TO_COUNTERJET = 10.0
PA_TOLERANCE_DEG = 20.0


def _demo(name: str) -> Path:
    import casadata

    path = Path(casadata.datapath) / "demo" / name
    if not path.is_file():
        pytest.skip(f"casadata demo file missing: {path}")
    return path


def test_n5921_calibrate_without_field_names(tmp_path):
    """`calmodel calibrate --ms NGC5921.fits --model none`: roles from names and scans, and
    the fluxscale of 1445+099 against the published value."""
    out = tmp_path / "o"
    run([str(VENV_BIN / "calmodel"), "calibrate", "--ms", str(_demo("NGC5921.fits")), "--model", "none",
         "--out", str(out)])
    record = json.loads((out / "calibrate.json").read_text())
    assert record["fields"] == {"flux_calibrator": "1331+30500002_0", "gain_calibrator": "1445+09900002_0",
                                "targets": ["N5921_2"]}
    reasons = record["field_reasons"]
    assert "3C286" in reasons["flux_calibrator"]
    assert "interleaved" in reasons["gain_calibrators"] and "N5921_2" in reasons["gain_calibrators"]
    flux = record["fluxscale"]["fit_flux_jy"]
    assert abs(flux / N5921_GAINCAL_REFERENCE_JY - 1) < N5921_TOLERANCE, flux


def test_roles_named_fields_still_override(tmp_path):
    """Explicit names win over the name/scan rule, and are recorded as 'named'."""
    from calmodel.core.ms import open_input
    from calmodel.core.roles import field_roles

    ms = open_input(_demo("NGC5921.fits"), tmp_path)
    roles = field_roles(ms, flux="1331+30500002_0", gain=["N5921_2"], targets=["1445+09900002_0"])
    assert roles.gain_calibrators == ["N5921_2"] and roles.targets == ["1445+09900002_0"]
    assert roles.reasons["gain_calibrators"] == roles.reasons["targets"] == "named"


def _sector_flux(pa: np.ndarray, flux: np.ndarray, centre_deg: float) -> float:
    diff = (pa - centre_deg + 180.0) % 360.0 - 180.0
    return float(flux[np.abs(diff) <= SECTOR_HALF_WIDTH_DEG].sum())


def test_3c273_model_from_ms_alone(tmp_path):
    """`calmodel build-model --ms 3C273XC1.fits`: one channel -> nterms 1 (alpha 0), the field
    found (the only one), and a core plus one-sided south-west jet."""
    import casatools

    from calmodel.core.components import read_components

    out = tmp_path / "m"
    run([str(VENV_BIN / "calmodel"), "build-model", "--ms", str(_demo("3C273XC1.fits")), "--out", str(out)])
    record = json.loads((out / "build_model.json").read_text())
    assert record["field"] == "3C273" and record["field_reason"] == "the only field of the MS"
    assert record["taylor_terms"]["nterms"] == 1 and record["taylor_terms"]["n_frequencies"] == 1
    assert (out / "model.tt1").is_dir()

    comps = read_components(out / "model.cl")
    assert all(c.alpha == 0.0 for c in comps)
    ia = casatools.image()
    ia.open(str(out / "model.tt0"))
    centre = ia.coordsys().referencevalue(type="direction")["numeric"]  # rad: the phase centre
    ia.close()
    ra0, dec0 = np.degrees(centre[0]) % 360.0, np.degrees(centre[1])
    ra = np.array([c.ra_deg for c in comps])
    dec = np.array([c.dec_deg for c in comps])
    flux = np.array([c.flux_jy for c in comps])
    east = ((ra - ra0 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec0)) * 3600.0
    north = (dec - dec0) * 3600.0

    brightest = int(np.argmax(flux))
    assert np.hypot(east[brightest], north[brightest]) < CORE_TOLERANCE_ARCSEC

    de, dn = east - east[brightest], north - north[brightest]
    radius = np.hypot(de, dn)
    pa = np.degrees(np.arctan2(de, dn)) % 360.0  # east of north
    ring = (radius >= ANNULUS_ARCSEC[0]) & (radius <= ANNULUS_ARCSEC[1])
    jet = _sector_flux(pa[ring], flux[ring], JET_PA_DEG)
    counter = _sector_flux(pa[ring], flux[ring], (JET_PA_DEG + 180.0) % 360.0)
    total = float(flux.sum())
    assert jet >= MIN_JET_FRACTION * total, (jet, total)
    assert jet >= MIN_JET_TO_COUNTERJET * max(counter, 0.0), (jet, counter)
    weights = np.clip(flux[ring], 0.0, None)
    mean_pa = np.degrees(np.arctan2(np.sum(weights * np.sin(np.radians(pa[ring]))),
                                    np.sum(weights * np.cos(np.radians(pa[ring]))))) % 360.0
    assert abs((mean_pa - JET_PA_DEG + 180.0) % 360.0 - 180.0) < PA_TOLERANCE_DEG, mean_pa


@pytest.mark.slow
def test_n5921_se_image_is_nterms1_with_blank_alpha(tmp_path):
    """SE imaging of NGC5921 (0.1% fractional bandwidth): nterms 1 by core.wideband, and the
    alpha products kept (the contract) but NaN: a spectral index that was not measured."""
    from astropy.io import fits

    cal = tmp_path / "o"
    run([str(VENV_BIN / "calmodel"), "calibrate", "--ms", str(_demo("NGC5921.fits")), "--model", "none",
         "--out", str(cal)])
    out = tmp_path / "img"
    run([str(VENV_BIN / "calmodel"), "image", "--ms", str(cal / "calibrated.ms"), "--field", "N5921_2",
         "--mode", "se", "--out", str(out)])
    record = json.loads((out / "image.json").read_text())
    assert record["clean"]["nterms"] == 1 and record["clean"]["taylor_terms"]["fractional_bandwidth"] < 0.01
    assert np.all(np.isnan(fits.getdata(out / "N5921_2_se.alpha.fits")))
    assert np.isfinite(fits.getdata(out / "N5921_2_se.image.tt0.fits")).any()
