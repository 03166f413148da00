"""The catalog stage: PyBDSF on synthetic images with a known sky.

The image is 512x512 pixels of 0.6", a 2.5"x2.0" beam, beam-correlated noise of 100 uJy,
36 components of peak S/N 25-400 (a third resolved, 1-3") and 6 of S/N 6-15, plus the
flux-weighted alpha image an mtmfs clean would make.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy import units as u
from conftest import VENV_BIN, run
from synthetic_images import (Geometry, correlated_noise, make_sky, write_alpha_images, write_fits,
                              write_image)

from calmodel.catalog.stage import header_frequency, rms_box_for

NOISE = 1e-4
BEAM_ARCSEC = 2.5


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    d = tmp_path_factory.mktemp("catalog")
    sky = make_sky(36, seed=1, noise_jy=NOISE, n_faint=6)
    image = write_image(d / "field.image.tt0.fits", sky, noise_jy=NOISE, seed=7)
    alpha, alpha_error = write_alpha_images(d / "field.alpha.fits", d / "field.alpha.error.fits",
                                            sky, noise_jy=NOISE)
    out = d / "cat"
    proc = run([str(VENV_BIN / "calmodel"), "catalog", "--image", str(image), "--alpha", str(alpha),
                "--alpha-error", str(alpha_error), "--out", str(out)])
    return {"sky": sky, "dir": d, "out": out, "stdout": proc.stdout,
            "cat": Table.read(out / "catalog.fits"),
            "record": json.loads((out / "catalog.json").read_text())}


def _matched(field):
    sky, cat = field["sky"], field["cat"]
    truth = SkyCoord([s["ra_deg"] for s in sky] * u.deg, [s["dec_deg"] for s in sky] * u.deg)
    idx, sep, _ = truth.match_to_catalog_sky(SkyCoord(cat["RA"], cat["DEC"]))
    return cat[idx], sep.arcsec


def test_every_component_found_once_and_nothing_else(field):
    cat, sep = _matched(field)
    assert len(field["cat"]) == 42 == field["record"]["n_components"]
    assert len(set(cat["Gaus_id"])) == 42
    assert sep.max() < 0.5  # the memo's match radius; 0.41" for the faintest resolved one
    assert "42 components (42 with alpha)" in field["stdout"]


def test_positions_fluxes_and_errors_match_the_injected_sky(field):
    cat, sep = _matched(field)
    flux = np.array([s["flux_jy"] for s in field["sky"]])
    bright = np.arange(len(flux)) < 36  # peak S/N 25-400
    ratio = cat["Total_flux"] / flux
    assert abs(np.median(ratio[bright]) - 1.0) < 0.01  # measured 1.000
    assert 1.4826 * np.median(np.abs(ratio[bright] - np.median(ratio[bright]))) < 0.02  # 0.006
    pull = (cat["Total_flux"] - flux) / cat["E_Total_flux"]
    assert np.all(np.abs(pull) < 4.0)  # PyBDSF's errors describe the scatter
    assert np.all(sep[bright] < 0.1 * BEAM_ARCSEC)  # worst 0.11"
    # Point sources come out with the beam's shape.
    point = bright & np.array([s["maj_arcsec"] == 0 for s in field["sky"]])
    assert np.median(cat["Maj"][point]) == pytest.approx(2.5, abs=0.05)
    assert np.median(cat["Min"][point]) == pytest.approx(2.0, abs=0.05)
    assert field["cat"]["Maj"].unit == u.arcsec and field["cat"]["Total_flux"].unit == u.Jy


def test_spectral_index_is_looked_up_at_each_component(field):
    cat, _ = _matched(field)
    alpha = np.array([s["alpha"] for s in field["sky"]])
    assert np.all(np.abs(cat["Alpha"] - alpha) < 1e-4)  # float32 image: 5e-8
    assert np.all(np.isfinite(cat["E_Alpha"])) and np.all(cat["E_Alpha"] > 0)
    assert field["record"]["n_with_alpha"] == 42


def test_record_and_csv(field):
    rec = field["record"]
    assert rec["stage"] == "catalog" and "calmodel_version" in rec and "elapsed_s" in rec
    assert rec["parameters"]["thresh_isl"] == 3.0 and rec["parameters"]["thresh_pix"] == 5.0
    assert rec["parameters"]["rms_box"] == [128, 32]
    assert rec["frequency_hz"] == 3.0e9
    assert rec["image_rms_jy_per_beam"] == pytest.approx(NOISE, rel=0.05)
    assert rec["beam_arcsec"] == pytest.approx([2.5, 2.0, 30.0])
    assert rec["catalog_type"] == "gaul"
    csv = Table.read(field["out"] / "catalog.csv", format="ascii.csv")
    assert csv.colnames == field["cat"].colnames
    assert np.allclose(csv["Total_flux"], field["cat"]["Total_flux"], rtol=1e-6)
    assert not list(field["out"].glob(".*")), "no temporary files or work folders left behind"
    assert (field["out"] / "catalog.pybdsf.log").is_file()


def test_rms_box_scales_with_the_image():
    assert rms_box_for((512, 512)) == (128, 32)
    assert rms_box_for((1, 1, 4096, 4096)) == (200, 50)
    assert rms_box_for((100, 60)) == (15, 3)


def test_frequency_from_the_header():
    g = Geometry()
    assert header_frequency(g.header(), "x") == 3.0e9
    hdr = g.header(with_freq=False)
    hdr["RESTFRQ"] = 2.5e9
    assert header_frequency(hdr, "x") == 2.5e9
    hdr = g.header()
    hdr["CUNIT3"] = "GHz"
    hdr["CRVAL3"] = 3.5
    assert header_frequency(hdr, "x") == 3.5e9


def _fails(args: list[str], *words: str) -> str:
    proc = run([str(VENV_BIN / "calmodel"), "catalog", *args], check=False)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("calmodel: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_image_without_sources_is_an_error_unless_allowed(tmp_path):
    image = write_fits(tmp_path / "empty.fits", correlated_noise(Geometry(), NOISE, seed=3))
    _fails(["--image", str(image), "--out", str(tmp_path / "a")], "no sources", "empty.fits",
           "--allow-empty")
    assert not (tmp_path / "a" / "catalog.fits").exists()
    run([str(VENV_BIN / "calmodel"), "catalog", "--image", str(image), "--out", str(tmp_path / "b"),
         "--allow-empty"])
    assert len(Table.read(tmp_path / "b" / "catalog.fits")) == 0
    assert len(Table.read(tmp_path / "b" / "catalog.csv", format="ascii.csv")) == 0
    assert json.loads((tmp_path / "b" / "catalog.json").read_text())["n_components"] == 0


def test_blank_and_infinite_images(tmp_path):
    g = Geometry()
    nan = write_fits(tmp_path / "nan.fits", np.full((g.npix, g.npix), np.nan))
    _fails(["--image", str(nan), "--out", str(tmp_path / "o")], "nan.fits", "NaN")
    data = correlated_noise(g, NOISE, seed=3)
    data[100:110, 100:110] = np.inf
    inf = write_fits(tmp_path / "inf.fits", data)
    _fails(["--image", str(inf), "--out", str(tmp_path / "o")], "inf.fits", "Inf", "PyBDSF")
    assert not list((tmp_path / "o").glob("catalog.*"))


def test_zero_filled_mask_is_named(tmp_path):
    data = correlated_noise(Geometry(), NOISE, seed=3)
    data[:, :300] = 0.0
    image = write_fits(tmp_path / "zeros.fits", data)
    _fails(["--image", str(image), "--out", str(tmp_path / "o")], "PyBDSF failed", "zeros.fits",
           "exactly 0")


def test_missing_header_keywords_and_files(tmp_path):
    noise = correlated_noise(Geometry(), NOISE, seed=3)
    nofreq = write_fits(tmp_path / "nofreq.fits", noise, with_freq=False)
    _fails(["--image", str(nofreq), "--out", str(tmp_path / "o")], "nofreq.fits", "FREQ", "RESTFRQ")
    nobeam = write_fits(tmp_path / "nobeam.fits", noise, with_beam=False)
    _fails(["--image", str(nobeam), "--out", str(tmp_path / "o")], "nobeam.fits", "BMAJ")
    _fails(["--image", str(tmp_path / "absent.fits"), "--out", str(tmp_path / "o")], "absent.fits",
           "not found")
    _fails(["--image", str(nofreq), "--alpha-error", str(nofreq), "--out", str(tmp_path / "o")],
           "--alpha")
