"""The real VLA observations that ship in casadata, run as a new user would: no field names,
no scan intents, no options beyond --ms and --out (issue 12).

Criteria and tolerances were chosen from the sources named here before the runs.

Run times on the shared 2-core machine when written: NGC5921 calibrate 17 s alone (37 s as a
test beside another test run), 3C273XC1 build-model 40 s alone (80 s) - both in the default
run; NGC5921 calibrate + SE image 90 s alone (113 s), marked slow since it repeats the
calibration.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, VENV_BIN, run

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


def test_flux_calibrator_by_position(tmp_path):
    """A flux calibrator whose name says nothing (NGC5921's 3C286 renamed 'FLUXCAL') is
    recognised by its phase centre: within 1 arcmin of 3C286's J2000 position (VLA
    calibrator manual), recorded with the separation; the rest of the roles follow."""
    import casatools

    from calmodel.core.ms import open_input
    from calmodel.core.roles import field_roles

    ms = open_input(_demo("NGC5921.fits"), tmp_path)
    tb = casatools.table()
    tb.open(str(ms / "FIELD"), nomodify=False)
    names = tb.getcol("NAME")
    names[0] = "FLUXCAL"
    tb.putcol("NAME", names)
    tb.close()
    roles = field_roles(ms)
    assert roles.flux_calibrator == "FLUXCAL" and roles.gain_calibrators == ["1445+09900002_0"]
    assert roles.targets == ["N5921_2"]
    reason = roles.reasons["flux_calibrator"]
    assert "3C286" in reason and "arcsec from" in reason and "tolerance 1 arcmin" in reason


def test_calibrator_position_tolerance():
    """1 arcmin (core.fluxcal.POSITION_TOLERANCE_ARCMIN): 3C48 offset by 50" in declination is
    3C48, by 70" is not; a position between the calibrators is none of them."""
    from calmodel.core.fluxcal import FLUX_CALIBRATOR_POSITIONS_J2000, calibrator_at

    ra, dec = FLUX_CALIBRATOR_POSITIONS_J2000["3C48"]
    name, separation = calibrator_at(ra, dec + 50 / 3600)
    assert name == "3C48" and separation == pytest.approx(50 / 60, rel=1e-6)
    assert calibrator_at(ra, dec + 70 / 3600) is None
    assert calibrator_at(100.0, -40.0) is None


def test_b1950_phase_centre_in_j2000(tmp_path):
    """3C273XC1's FIELD table is in B1950_VLA; core.ms.field_positions_j2000 converts it: the
    J2000 (ICRF) position of 3C273 is 12h29m06.6997s +02d03m08.598s (NED), matched to 1"."""
    from calmodel.core.ms import field_positions_j2000, open_input

    ms = open_input(_demo("3C273XC1.fits"), tmp_path)
    ra, dec = field_positions_j2000(ms)["3C273"]
    ra_ref = 15 * (12 + 29 / 60 + 6.6997 / 3600)
    dec_ref = 2 + 3 / 60 + 8.598 / 3600
    assert abs((ra - ra_ref) * np.cos(np.radians(dec_ref))) * 3600 < 1.0
    assert abs(dec - dec_ref) * 3600 < 1.0


def test_band_scale_from_the_data(tmp_path):
    """core.uvband: NGC5921 (1.413 GHz, D configuration, 1.03 km) 0.044; 3C273XC1 (8.085 GHz,
    C configuration, 3.73 km) 0.91; a given scale wins."""
    from calmodel.core.ms import open_input
    from calmodel.core.uvband import band_scale_for

    n5921 = band_scale_for(open_input(_demo("NGC5921.fits"), tmp_path))
    assert n5921.scale == 0.044 and n5921.longest_baseline_m == pytest.approx(1031, abs=1)
    c3c273 = band_scale_for(open_input(_demo("3C273XC1.fits"), tmp_path))
    assert c3c273.scale == 0.91 and c3c273.centre_hz == 8.085e9
    assert band_scale_for(tmp_path, 1.0).scale == 1.0


def test_band_scale_of_simulated_tiles_is_one():
    """The simulated tiles (docs/simulate.md defaults: casadata's vla.b.cfg, four spws centred
    on 2.25-3.75 GHz, so a 3.0 GHz centre) keep the memo's band exactly: scale 1.0."""
    from calmodel.core.casa import casadata_path
    from calmodel.core.uvband import scale_from

    rows = [line.split()[:3] for line in (casadata_path() / "alma" / "simmos" / "vla.b.cfg").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    xyz = np.array(rows, dtype=float)
    longest = float(np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(axis=-1)).max())
    assert longest == pytest.approx(11.1e3, rel=0.005)  # NRAO: B configuration, 11.1 km
    assert scale_from(3.0e9, longest) == 1.0


def _sector_flux(pa: np.ndarray, flux: np.ndarray, centre_deg: float) -> float:
    diff = (pa - centre_deg + 180.0) % 360.0 - 180.0
    return float(flux[np.abs(diff) <= SECTOR_HALF_WIDTH_DEG].sum())


def check_3c273_structure(ra: np.ndarray, dec: np.ndarray, flux: np.ndarray, ra0: float,
                          dec0: float) -> dict:
    """The checks of the module docstring on a 3C273 model's components (degrees, Jy) about
    the phase centre (ra0, dec0). Returns the flux distribution: core (components within
    ANNULUS_ARCSEC[0] = 3" of the brightest, i.e. inside its ~2.5" beam) vs extended (the rest),
    and the jet and counter-jet sectors."""
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
    core = float(flux[radius < ANNULUS_ARCSEC[0]].sum())
    return {"total_jy": total, "core_jy": core, "extended_jy": total - core,
            "core_fraction": core / total, "jet_sector_jy": jet, "counterjet_sector_jy": counter,
            "mean_pa_deg": float(mean_pa)}


def test_3c273_model_from_ms_alone(tmp_path):
    """`calmodel build-model --ms 3C273XC1.fits`: one channel -> nterms 1 (alpha 0), the field
    found (the only one), and a core plus one-sided south-west jet."""
    import casatools

    from calmodel.core.components import read_components

    out = tmp_path / "m"
    run([str(VENV_BIN / "calmodel"), "build-model", "--ms", str(_demo("3C273XC1.fits")), "--out", str(out)])
    record = json.loads((out / "build_model.json").read_text())
    assert record["field"] == "3C273" and "only field of the MS" in record["field_reason"]
    assert record["taylor_terms"]["nterms"] == 1 and record["taylor_terms"]["n_frequencies"] == 1
    assert (out / "model.tt1").is_dir()

    comps = read_components(out / "model.cl")
    assert all(c.alpha == 0.0 for c in comps)
    # the record lists the same components, for the report's scope (core vs secondaries)
    listed = np.array([(c["ra_deg"], c["dec_deg"], c["flux_jy"]) for c in record["components"]])
    np.testing.assert_allclose(listed, [(c.ra_deg, c.dec_deg, c.flux_jy) for c in comps], rtol=1e-12)
    ia = casatools.image()
    ia.open(str(out / "model.tt0"))
    centre = ia.coordsys().referencevalue(type="direction")["numeric"]  # rad: the phase centre
    ia.close()
    check_3c273_structure(np.array([c.ra_deg for c in comps]), np.array([c.dec_deg for c in comps]),
                          np.array([c.flux_jy for c in comps]),
                          np.degrees(centre[0]) % 360.0, np.degrees(centre[1]))


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


# ---------------------------------------------------------------- the workflow (issue 12)

def _phase_centre_deg(image: Path) -> tuple[float, float]:
    import casatools

    ia = casatools.image()
    ia.open(str(image))
    centre = ia.coordsys().referencevalue(type="direction")["numeric"]
    ia.close()
    return float(np.degrees(centre[0]) % 360.0), float(np.degrees(centre[1]))


def _run_real_workflow(work: Path, tiles: list[str]) -> tuple[Path, float]:
    """`calmodel real-samplesheet` + `nextflow run . -profile test_real`, as docs/real-data.md
    says; returns the results folder and the run time (s)."""
    import time

    sheet = work / "samplesheet_real.csv"
    run([str(VENV_BIN / "calmodel"), "real-samplesheet", "--out", str(sheet),
         *[arg for tile in tiles for arg in ("--tile", tile)]])
    started = time.monotonic()
    run([str(VENV_BIN / "nextflow"), "run", str(REPO), "-profile", "test_real", "--input", str(sheet),
         "--outdir", "results"], cwd=work, timeout=3600)
    return work / "results", time.monotonic() - started


def _check_3c273_tile(results: Path, record_property) -> None:
    """The calibrator-only tile: characterised, its model built from `tile,ms` alone, the core
    and one-sided jet of the module docstring, and a report that says there is no target."""
    report = json.loads((results / "report" / "report.json").read_text())
    tile = report["tiles"]["3c273xc1"]
    assert tile["verdict"] == "no-target" and tile.get("calibrator_only") is True
    assert "no target field" in tile["reasons"][0]
    assert tile["characterize"]["targets"] == [] and tile["fluxscale"] == {} and tile["modes"] == {}
    assert all("3c273xc1" not in o["tiles"] for o in report["overall"].values())
    assert "no target field in this tile" in (results / "report" / "report.html").read_text()
    characterize = json.loads((results / "3c273xc1" / "characterize" / "characterize.json").read_text())
    assert characterize["band_scale_used"]["band_scale"] == 0.91  # core.uvband, from the data
    build = json.loads((results / "3c273xc1" / "build_model" / "build_model.json").read_text())
    assert build["field"] == "3C273" and build["taylor_terms"]["nterms"] == 1
    comps = build["components"]
    distribution = check_3c273_structure(
        np.array([c["ra_deg"] for c in comps]), np.array([c["dec_deg"] for c in comps]),
        np.array([c["flux_jy"] for c in comps]),
        *_phase_centre_deg(results / "3c273xc1" / "build_model" / "model.tt0"))
    record_property("3c273_flux_distribution", json.dumps(distribution))
    print("3C273 model flux distribution:", json.dumps(distribution))


def test_workflow_3c273_calibrator_only(tmp_path, record_property):
    """3C273XC1 through the workflow from `tile,ms,build_model` alone (one field, no target):
    characterize + build-model, nothing calibrated or imaged, and the report says why."""
    results, elapsed = _run_real_workflow(tmp_path, ["3c273xc1"])
    record_property("run_time_s", round(elapsed, 1))
    print(f"workflow (3c273xc1): {elapsed:.0f} s")
    _check_3c273_tile(results, record_property)
    trace = sorted((results / "pipeline_info").glob("trace_*.txt"))[-1]
    with trace.open() as handle:
        processes = {row["process"].split(":")[-1] for row in csv.DictReader(handle, delimiter="\t")}
    assert {"CHARACTERIZE", "BUILD_MODEL", "REPORT"} <= processes, processes
    assert not processes & {"CALIBRATE_NOMODEL", "CALIBRATE_MODEL", "IMAGE", "CATALOG", "COMPARE"}, processes


@pytest.mark.slow
def test_workflow_both_real_observations(tmp_path, record_property):
    """`-profile test_real` with both observations: NGC5921 calibrated in both arms (its
    model of 1445+099 built on request), imaged, catalogued and compared, with the
    fluxscale of the published value (module docstring); 3C273XC1 as above."""
    results, elapsed = _run_real_workflow(tmp_path, ["n5921", "3c273xc1"])
    record_property("run_time_s", round(elapsed, 1))
    print(f"workflow (n5921, 3c273xc1): {elapsed:.0f} s")
    report = json.loads((results / "report" / "report.json").read_text())
    assert set(report["tiles"]) == {"n5921", "3c273xc1"}
    n5921 = report["tiles"]["n5921"]
    assert n5921["verdict"] != "no-target" and set(n5921["modes"]) == {"ql", "se"}
    nomodel = json.loads((results / "n5921" / "calibrate_nomodel" / "calibrate.json").read_text())
    assert nomodel["fields"]["flux_calibrator"] == "1331+30500002_0"
    flux = nomodel["fluxscale"]["fit_flux_jy"]
    record_property("n5921_fluxscale_jy", flux)
    print(f"NGC5921 1445+099 fluxscale (nomodel arm): {flux:.4f} Jy")
    assert abs(flux / N5921_GAINCAL_REFERENCE_JY - 1) < N5921_TOLERANCE, flux
    characterize = json.loads((results / "n5921" / "characterize" / "characterize.json").read_text())
    assert characterize["band_scale_used"]["band_scale"] == 0.044
    _check_3c273_tile(results, record_property)
