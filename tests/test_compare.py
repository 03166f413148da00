"""The compare stage: two arms whose images differ by a known 2% flux scale, and the truth.

Both images hold the same 46 components (40 of peak S/N 25-400, 6 of S/N 6-15) with
independent noise of 100 uJy; the "model" arm's fluxes are 1.02 x the "nomodel" arm's.
Outliers and the core fit are also checked on hand-made catalogues (no PyBDSF).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from conftest import VENV_BIN, run
from synthetic_images import make_sky, write_alpha_images, write_image, write_truth_csv

from calmodel.catalog.stage import make_catalog
from calmodel.compare.settings import CompareSettings
from calmodel.compare.stage import compare, gaussian_core_fit
from calmodel.core.skymatch import match_one_to_one, sky_coords as _coords

NOISE = 1e-4
SCALE = 1.02


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    sky = make_sky(40, seed=2, noise_jy=NOISE, n_faint=6)
    alpha, alpha_error = write_alpha_images(d / "alpha.fits", d / "alpha.error.fits", sky,
                                            noise_jy=NOISE)
    cats = {}
    for arm, scale, seed in (("model", SCALE, 12), ("nomodel", 1.0, 11)):
        image = write_image(d / f"{arm}.image.tt0.fits", sky, noise_jy=NOISE, seed=seed,
                            scale=scale)
        cats[arm] = make_catalog(image, d / arm, alpha=alpha, alpha_error=alpha_error).catalog_fits
    # One truth row far outside the images, one of another field.
    far = dict(sky[0], ra_deg=152.0, dec_deg=22.0)
    truth = write_truth_csv(d / "sky.csv", sky + [far])
    out = d / "cmp"
    proc = run([str(VENV_BIN / "calmodel"), "compare", "--model", str(cats["model"]),
                "--nomodel", str(d / "nomodel" / "catalog.csv"), "--truth", str(truth),
                "--out", str(out)])
    return {"dir": d, "sky": sky, "cats": cats, "truth": truth, "out": out, "stdout": proc.stdout,
            "record": json.loads((out / "compare.json").read_text())}


def test_known_flux_scale_is_recovered(arms):
    rec = arms["record"]
    # PyBDSF adds two faint Gaussians to the model arm's islands of bright sources (3-4" off,
    # like the memo's artefact outliers) and one S/N~7 source moves > 0.5" between the arms.
    assert rec["counts"] == {"model": 48, "nomodel": 46, "matched": 45, "model_unmatched": 3,
                             "nomodel_unmatched": 1}
    assert rec["match_radius_arcsec"] == 0.5
    for q in ("Total_flux", "Peak_flux"):
        fit = rec["differences"][q]["fractional_difference"]
        assert fit["mean_err"] < 0.005
        assert abs(fit["mean"] - (SCALE - 1.0)) < 2.0 * fit["mean_err"], (q, fit)
        assert 0.005 < fit["sigma"] < 0.05
    # Same alpha image for both arms, same shapes: no differences there.
    assert rec["differences"]["Alpha"]["difference"]["mean"] == pytest.approx(0.0, abs=1e-6)
    for q in ("Maj", "Min"):
        fit = rec["differences"][q]["difference"]
        assert abs(fit["mean"]) < 3.0 * fit["mean_err"] + 1e-3, (q, fit)
    assert rec["quantities"] == ["Total_flux", "Peak_flux", "Alpha", "Maj", "Min", "PA"]
    assert "45 matched of 48/46" in arms["stdout"]


def test_total_over_peak_distributions_agree(arms):
    tp = arms["record"]["total_over_peak"]
    assert tp["ks_pvalue"] > 0.5
    m, n = tp["model"], tp["nomodel"]
    assert m["n"] == 48 and n["n"] == 46
    assert abs(m["median"] - n["median"]) < 2.0 * np.hypot(m["median_err"], n["median_err"])
    assert 1.0 < n["median"] < 1.3  # 21 of the 46 components are resolved


def test_truth_comparison(arms):
    truth = arms["record"]["truth"]
    for arm, scale in (("model", SCALE), ("nomodel", 1.0)):
        t = truth[arm]
        assert t["n_truth_in_image"] == 46 and t["n_truth_outside_image"] == 1
        assert t["flux_ratio_bright"]["median"] == pytest.approx(scale, abs=0.01), arm
        assert t["flux_ratio_bright"]["robust_sigma"] < 0.03
        assert abs(t["alpha_error"]["median"]) < 1e-4
        assert t["completeness_bright"]["fraction"] == 1.0
        assert t["completeness_bright"]["n_truth"] >= 38
        assert t["completeness"]["fraction"] == 1.0
        assert t["rms_jy_per_beam"] == pytest.approx(NOISE, rel=0.05)
    # Against the truth, Gaussians are grouped into PyBDSF sources: the model arm's two extra
    # Gaussians belong to bright sources' islands and sources, so they are no false detections.
    assert truth["model"]["false_detections"]["n"] == 0
    assert truth["nomodel"]["false_detections"]["n"] == 0
    assert truth["model"]["n_matched"] == truth["nomodel"]["n_matched"] == 46


def test_products(arms):
    out, rec = arms["out"], arms["record"]
    matched = Table.read(out / "matched.csv", format="ascii.csv")
    assert len(matched) == rec["counts"]["matched"]
    for col in ("model_Total_flux", "nomodel_Total_flux", "frac_Total_flux", "diff_Alpha",
                "sep_arcsec", "bright_dist_arcsec", "outlier"):
        assert col in matched.colnames
    assert matched["sep_arcsec"].max() < 0.5
    for name in ("fluxes.png", "fluxes_fractional.png", "alpha.png", "shapes.png",
                 "total_over_peak.png", "truth.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert rec["stage"] == "compare" and "calmodel_version" in rec and "elapsed_s" in rec
    assert not list(out.glob(".*"))


def test_results_are_deterministic(arms, tmp_path):
    a = compare(arms["cats"]["model"], arms["cats"]["nomodel"], tmp_path / "a", truth=arms["truth"])
    b = compare(arms["cats"]["model"], arms["cats"]["nomodel"], tmp_path / "b", truth=arms["truth"])
    ra, rb = (json.loads(r.record.read_text()) for r in (a, b))
    for rec in (ra, rb):
        rec.pop("elapsed_s")
    assert ra == rb
    for name in ["matched.csv"] + [p.name for p in a.figures]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # The CSV catalogue gives the numbers the FITS one does.
    cli = arms["record"]["differences"]["Total_flux"]["fractional_difference"]
    assert ra["differences"]["Total_flux"]["fractional_difference"] == pytest.approx(cli)


def _write_cat(path, ra, dec, flux):
    Table({"RA": ra, "DEC": dec, "Total_flux": flux, "Peak_flux": flux}).write(
        path, format="ascii.csv", overwrite=True)
    return path


def test_outliers_near_a_bright_source(tmp_path):
    rng = np.random.default_rng(5)
    n = 300
    ra = 150.0 + rng.uniform(-0.1, 0.1, n)
    dec = 20.0 + rng.uniform(-0.1, 0.1, n)
    flux = np.exp(rng.uniform(np.log(1e-3), np.log(1e-2), n))
    flux[0] = 1.0  # the one bright source
    model = flux * (1.0 + 0.01 * rng.standard_normal(n))
    # Three artefact components 5" from the bright source, 30% different in the two arms.
    offsets = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, 0.0]]) / 3600.0
    ra = np.concatenate([ra, ra[0] + offsets[:, 0] / np.cos(np.radians(dec[0]))])
    dec = np.concatenate([dec, dec[0] + offsets[:, 1]])
    flux = np.concatenate([flux, [2e-3] * 3])
    model = np.concatenate([model, [2.6e-3] * 3])
    result = compare(_write_cat(tmp_path / "m.csv", ra, dec, model),
                     _write_cat(tmp_path / "n.csv", ra, dec, flux), tmp_path / "out",
                     settings=CompareSettings(bright_flux_jy=0.5))
    rec = json.loads(result.record.read_text())
    fit = rec["differences"]["Total_flux"]["fractional_difference"]
    assert fit["mean"] == pytest.approx(0.0, abs=3 * fit["mean_err"])
    assert fit["sigma"] == pytest.approx(0.01, rel=0.1)  # the skirts do not widen the core
    assert fit["n"] == 303 and fit["n_core"] <= 300
    out = rec["outliers"]
    assert out["n"] == 3 and out["bright_flux_jy"] == 0.5
    assert sorted(item["nomodel_row"] for item in out["items"]) == [300, 301, 302]
    assert all(item["bright_dist_arcsec"] == pytest.approx(5.0, abs=0.01) for item in out["items"])
    assert rec["quantities"] == ["Total_flux", "Peak_flux"]  # no shapes or alpha in these files


def test_an_empty_catalogue_compares_to_nothing(tmp_path):
    # `calmodel catalog --allow-empty` writes header-only CSVs; compare must still report.
    empty = _write_cat(tmp_path / "empty.csv", [], [], [])
    full = _write_cat(tmp_path / "full.csv", [150.0, 150.01], [20.0, 20.0], [1e-3, 2e-3])
    result = compare(empty, full, tmp_path / "out")
    rec = json.loads(result.record.read_text())
    assert rec["counts"]["matched"] == 0 and rec["counts"]["nomodel"] == 2
    assert rec["differences"]["Total_flux"]["difference"]["mean"] is None
    assert rec["total_over_peak"]["ks_pvalue"] is None and rec["outliers"]["n"] == 0


def test_core_fit_ignores_wide_skirts():
    rng = np.random.default_rng(3)
    core = rng.normal(0.5, 2.0, 2000)
    skirt = rng.normal(0.0, 40.0, 200)
    fit = gaussian_core_fit(np.concatenate([core, skirt, [np.nan]]))
    assert fit["n"] == 2200
    assert fit["mean"] == pytest.approx(0.5, abs=3 * fit["mean_err"])
    assert fit["sigma"] == pytest.approx(2.0, abs=3 * fit["sigma_err"] + 0.05)
    assert gaussian_core_fit([1.0, 2.0])["mean"] is None


def test_matching_is_one_to_one():
    a = _coords([150.0, 150.0 + 0.2 / 3600], [20.0, 20.0])
    b = _coords([150.0 + 0.05 / 3600, 151.0], [20.0, 20.0])
    ia, ib, sep = match_one_to_one(a, b, 0.5)
    assert list(ia) == [0] and list(ib) == [0]
    assert sep[0] == pytest.approx(0.05 * np.cos(np.radians(20)), rel=1e-3)


def test_bad_inputs_are_one_line_errors(arms, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("RA,DEC,Total_flux\n150,20,0.001\n")
    cases = [(["--model", str(tmp_path / "absent.fits")], "absent.fits"),
             (["--model", str(bad)], "Peak_flux"),
             (["--model", str(arms["cats"]["model"]), "--truth", str(bad)], "ra_deg")]
    for args, word in cases:
        proc = run([str(VENV_BIN / "calmodel"), "compare", *args, "--nomodel",
                    str(arms["cats"]["nomodel"]), "--out", str(tmp_path / "o")], check=False)
        assert proc.returncode == 2, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("calmodel: error:")]
        assert len(errors) == 1 and word in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
