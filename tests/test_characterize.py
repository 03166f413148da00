"""`calmodel characterize` on real VLA data shipped by casadata (demo/).

* 3C273XC1.fits: VLA C-config, X band (8085 MHz, one 50 MHz channel), 3C273 alone, no scan
  intents (so --field). Baselines reach ~93 klambda: the memo's 35-90 klambda band is covered.
* NGC5921.fits: VLA D-config, L band, 63 channels of 24 kHz; 1331+305 (3C286, flux/bandpass),
  1445+099 (gain calibrator), N5921; no scan intents. Channels 5~57 only (`--spw 0:5~57`,
  53 of 63: the band edges roll off). D config at 21 cm reaches only ~5 klambda, so the
  memo's band (VLASS: B config, 3 GHz) is empty; --band-scale 0.05 maps it to 1.75-4.5
  klambda, the same fraction of this array's longest baselines.

Pinned numbers come from CASA 6.7.0.31 (casadata 2025.9.22); deviations are fractions of
the per-spw/correlation median amplitude, pinned to +-0.003 (a tenth of the 3% threshold).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import VENV_BIN, run

DEV_TOL = 0.003
GAINCAL, FLUXCAL = "1445+09900002_0", "1331+30500002_0"
N5921_SPW = "0:5~57"


def _demo(name: str) -> Path:
    import casadata

    path = Path(casadata.datapath) / "demo" / name
    if not path.is_file():
        pytest.skip(f"casadata demo file missing: {path}")
    return path


def _fingerprint(path: Path) -> list[tuple[str, int, int, str]]:
    """(relative path, size, mtime_ns, sha256) of every file under ``path`` (or ``path``)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [(str(p.relative_to(path.parent)), p.stat().st_size, p.stat().st_mtime_ns,
             hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]


def _characterize(out: Path, *args: str, check: bool = True):
    proc = run([str(VENV_BIN / "calmodel"), "characterize", *args, "--out", str(out)],
               timeout=600, check=check)
    print(proc.stdout)
    record = json.loads((out / "characterize.json").read_text()) if check else None
    return proc, record


def _deviating(cal: dict) -> list[list[float]]:
    c = cal["curve"]
    return [[c["edges"][i], c["edges"][i + 1]] for i, d in enumerate(c["deviates"]) if d]


@pytest.fixture(scope="session")
def n5921_ms(tmp_path_factory) -> Path:
    """NGC5921.fits imported once per session (calmodel.core.ms.open_input), checked."""
    from calmodel.core import ms as msio

    fits = _demo("NGC5921.fits")
    before = _fingerprint(fits)
    ms = msio.open_input(fits, tmp_path_factory.mktemp("n5921"))
    assert ms.name == "NGC5921.ms" and msio.is_ms(ms)
    assert _fingerprint(fits) == before
    assert msio.field_names(ms) == [FLUXCAL, GAINCAL, "N5921_2"]
    assert msio.fields_by_intent(ms) == {}
    (spw,) = msio.spw_info(ms)
    assert spw.chan_freqs_hz.size == 63 and abs(spw.reffreq_hz - 1413.42e6) < 0.1e6
    return ms


def _with_intents(source: Path, target: Path, modes: dict[int, str]) -> Path:
    """A copy of ``source`` with scan intents (field i observed with ``modes[i]``)."""
    import casatools

    from calmodel.core.io import copy_tree

    ms = copy_tree(source, target)
    tb = casatools.table()
    tb.open(str(ms / "STATE"), nomodify=False)
    tb.addrows(len(modes))
    tb.putcol("OBS_MODE", np.array(list(modes.values())))
    tb.close()
    tb.open(str(ms), nomodify=False)
    tb.putcol("STATE_ID", tb.getcol("FIELD_ID"))  # state i <-> field i
    tb.close()
    return ms


@pytest.fixture(scope="session")
def n5921_with_intents(n5921_ms, tmp_path_factory) -> Path:
    """A copy of the NGC5921 MS with VLA-style scan intents written into its STATE table."""
    from calmodel.core import ms as msio

    ms = _with_intents(n5921_ms, tmp_path_factory.mktemp("intents") / "n5921_intents.ms", {
        0: "CALIBRATE_FLUX#UNSPECIFIED,CALIBRATE_BANDPASS#UNSPECIFIED",
        1: "CALIBRATE_PHASE#UNSPECIFIED,CALIBRATE_AMPLI#UNSPECIFIED",
        2: "OBSERVE_TARGET#UNSPECIFIED"})
    assert msio.fields_by_intent(ms) == {
        "CALIBRATE_FLUX": [FLUXCAL], "CALIBRATE_BANDPASS": [FLUXCAL],
        "CALIBRATE_PHASE": [GAINCAL], "CALIBRATE_AMPLI": [GAINCAL],
        "OBSERVE_TARGET": ["N5921_2"]}
    return ms


@pytest.fixture(scope="session")
def run_3c273(tmp_path_factory):
    """characterize straight from 3C273XC1.fits (UVFITS input), once per session."""
    fits = _demo("3C273XC1.fits")
    before = _fingerprint(fits)
    out = tmp_path_factory.mktemp("c3c273")
    proc, record = _characterize(out, "--ms", str(fits), "--field", "3C273", "--band-scale", "1")
    return fits, before, out, proc, record


def test_3c273_resolved_outside_band_only(run_3c273):
    """3C273 at X band / C config: the jet lifts the shortest baselines by ~8% and the
    15-20 klambda bin is 4% low; the azimuthal medians stay within 3% in 35-90 klambda."""
    fits, before, out, proc, rec = run_3c273
    assert _fingerprint(fits) == before  # the input is untouched
    assert sorted(os.listdir(fits.parent)).count(fits.stem + ".ms") == 0  # nothing beside it
    assert rec["stage"] == "characterize" and rec["calmodel_version"]
    assert rec["parameters"]["threshold"] == 0.03 and rec["band_klambda_scaled"] == [35.0, 90.0]
    assert rec["decisions"] == {"3C273": "uvrange"}
    (cal,) = rec["calibrators"]
    assert cal["suggested_uvrange"] == ">20klambda"
    assert cal["suggested_uvrange_klambda"] == [20.0, None]
    assert cal["coverage"]["status"] == "ok" and cal["coverage"]["populated_bins_in_band"] == 11
    assert cal["coverage"]["fraction_in_band"] == pytest.approx(0.355, abs=0.01)
    assert cal["max_abs_dev_in_band"] == pytest.approx(0.0266, abs=DEV_TOL)
    assert cal["max_abs_dev_outside_band"] == pytest.approx(0.0769, abs=DEV_TOL)
    assert _deviating(cal) == [[0.0, 5.0], [15.0, 20.0]]
    curve = cal["curve"]
    assert curve["edges"][:3] == [0.0, 5.0, 10.0] and len(curve["count"]) == 19
    assert {n["correlation"] for n in cal["normalisation"]} == {"RR", "LL"}
    assert all(n["median_amplitude"] == pytest.approx(29.9, abs=0.3) for n in cal["normalisation"])
    assert (out / "3C273_amp_uvdist.png").stat().st_size > 10_000
    assert (out / "casa.log").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # work copy removed
    assert "3C273: uvrange" in proc.stdout


def test_3c273_quantile_bins(tmp_path):
    """Equal-count bins (~1.5-2 klambda wide below the band) resolve the jet's fringes:
    more deviating bins below 35 klambda, still none inside the band."""
    _, rec = _characterize(tmp_path, "--ms", str(_demo("3C273XC1.fits")), "--field", "3C273",
                           "--binning", "quantile", "--band-scale", "1")
    (cal,) = rec["calibrators"]
    assert cal["decision"] == "uvrange" and cal["suggested_uvrange"] == ">31.25klambda"
    assert cal["max_abs_dev_in_band"] == pytest.approx(0.0276, abs=DEV_TOL)
    assert cal["max_abs_dev_outside_band"] == pytest.approx(0.0903, abs=DEV_TOL)
    assert sum(cal["curve"]["in_band"]) == 11


def test_n5921_gaincal_is_point_in_scaled_band(n5921_ms, tmp_path):
    """1445+099 after a bandpass on 3C286: flat to < 1% out to 4.7 klambda."""
    before = _fingerprint(n5921_ms)
    _, rec = _characterize(tmp_path, "--ms", str(n5921_ms), "--field", GAINCAL,
                           "--bandpass-field", FLUXCAL, "--spw", N5921_SPW,
                           "--band-scale", "0.05")
    assert _fingerprint(n5921_ms) == before
    assert rec["band_klambda_scaled"] == pytest.approx([1.75, 4.5])
    assert rec["bandpass_field_used"] == FLUXCAL
    (cal,) = rec["calibrators"]
    assert cal["decision"] == "point" and cal["suggested_uvrange"] is None
    assert cal["coverage"]["status"] == "ok" and cal["coverage"]["populated_bins_in_band"] == 11
    assert cal["max_abs_dev_in_band"] == pytest.approx(0.0087, abs=DEV_TOL)
    assert cal["max_abs_dev_outside_band"] == pytest.approx(0.0073, abs=DEV_TOL)
    assert _deviating(cal) == []
    assert cal["n_vis"] > 500_000 and len(cal["normalisation"]) == 2
    assert (tmp_path / f"{GAINCAL}_amp_uvdist.png").is_file()


def test_sample_cap_subsamples_without_changing_the_statistic(n5921_ms, tmp_path):
    """--max-samples keeps a uniform random subsample: about that many samples are used, all
    are counted as read, and each bin median moves by no more than 4x the subsample's own
    uncertainty (a statistic on fewer samples, not a different statistic)."""
    common = ("--ms", str(n5921_ms), "--field", GAINCAL, "--bandpass-field", FLUXCAL,
              "--spw", N5921_SPW, "--band-scale", "0.05")
    _, full = _characterize(tmp_path / "full", *common)
    _, capped = _characterize(tmp_path / "capped", *common, "--max-samples", "100000")
    (whole,), (sub,) = full["calibrators"], capped["calibrators"]
    assert sub["n_vis_read"] == whole["n_vis_read"] == whole["n_vis"] > 500_000
    assert sub["n_vis"] == pytest.approx(100_000, rel=0.02)  # binomial: 0.3% at 1 sigma
    assert sub["decision"] == whole["decision"] == "point"
    assert sub["kept_fraction"] == pytest.approx(100_000 / whole["n_vis_read"], rel=1e-3)
    curves = (whole["curve"]["median_dev"], sub["curve"]["median_dev"], sub["curve"]["sigma"],
              sub["curve"]["populated"])
    for a, b, sigma, populated in zip(*curves):
        if populated:
            assert abs(a - b) <= 4.0 * sigma


def test_n5921_intents_default_band_is_insufficient(n5921_with_intents, tmp_path):
    """With intents, the gain and bandpass calibrators are found without --field; the
    memo's 35-90 klambda band is beyond D config at L band: coverage insufficient."""
    _, rec = _characterize(tmp_path, "--ms", str(n5921_with_intents), "--spw", N5921_SPW,
                           "--band-scale", "1")
    assert rec["gain_calibrators"] == [GAINCAL] and rec["bandpass_field_used"] == FLUXCAL
    (cal,) = rec["calibrators"]
    assert cal["decision"] == "insufficient-coverage"
    assert cal["coverage"] == {"status": "insufficient", "populated_bins_in_band": 0,
                               "fraction_in_band": 0.0, "min_bins": 2, "min_fraction": 0.05}
    assert cal["max_abs_dev_in_band"] is None


def test_3c273_without_options_is_a_calibrator_only_tile(tmp_path):
    """3C273XC1 (no intents, one field that is not a standard flux calibrator): core.roles
    takes the field as the gain calibrator of a calibrator-only observation (no targets), and
    core.uvband scales the memo's band by 8.085/3 GHz x 3.73/11.1 km = 0.91 (two significant
    figures): 31.85-81.9 klambda, inside C configuration's ~95 klambda."""
    _, rec = _characterize(tmp_path, "--ms", str(_demo("3C273XC1.fits")))
    assert rec["gain_calibrators"] == ["3C273"] and rec["roles"]["targets"] == []
    assert "only field" in rec["roles"]["reasons"]["gain_calibrators"]
    assert rec["band_scale_used"]["band_scale"] == 0.91
    assert rec["band_klambda_scaled"] == pytest.approx([31.85, 81.9])
    (cal,) = rec["calibrators"]
    assert cal["coverage"]["status"] == "ok"


def test_unknown_field(n5921_ms, tmp_path):
    proc, _ = _characterize(tmp_path, "--ms", str(n5921_ms), "--field", "NOPE", check=False)
    assert proc.returncode == 2 and "field 'NOPE' not in" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["missing", "not-uvfits"])
def test_bad_input_is_one_line(tmp_path, kind):
    bad = tmp_path / "tile.fits"
    if kind == "not-uvfits":
        bad.write_text("not a FITS file\n")
    before = _fingerprint(bad) if bad.exists() else None
    proc, _ = _characterize(tmp_path / "out", "--ms", str(bad), check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calmodel: error: ")
    assert str(bad) in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing written for a bad input
    if before is not None:
        assert _fingerprint(bad) == before


def test_noise_guard_keeps_faint_calibrator_point():
    """Decision rule on its own: a 5% dip in noisy bins (sigma ~3%) is not a deviation;
    the same dip with 100x the visibilities is (and lands inside the band)."""
    from calmodel.characterize.curve import bin_edges, binned_curve, decide

    rng = np.random.default_rng(1)
    band = (35.0, 90.0)
    for n, expected in ((60, "point"), (6000, "model-needed")):
        uvd = rng.uniform(0, 100, n * 20)
        amp = 1 + rng.normal(0, 0.2, uvd.size) - 0.05 * ((uvd > 50) & (uvd < 55))
        curve = binned_curve(uvd, amp, bin_edges(uvd, band, 11), band, 0.03, 3.0, 20)
        frac = float(np.mean((uvd >= 35) & (uvd < 90)))
        assert decide(curve, band, frac, 2, 0.05)[0] == expected


def test_bandpass_only_flux_calibrator_has_one_role_everywhere(n5921_ms, tmp_path):
    """A flux calibrator observed with CALIBRATE_BANDPASS only (and no --flux-field): the one
    rule of core.roles gives characterize, build-model and calibrate the same fields (calibrate
    used to stop with 'no field with intent CALIBRATE_FLUX')."""
    from calmodel.calibrate.settings import CalibrateSettings
    from calmodel.calibrate.stage import resolve_fields
    from calmodel.characterize.stage import select_fields
    from calmodel.core.roles import field_roles

    ms = _with_intents(n5921_ms, tmp_path / "bandpass_only.ms", {
        0: "CALIBRATE_BANDPASS#UNSPECIFIED",
        1: "CALIBRATE_PHASE#UNSPECIFIED",
        2: "OBSERVE_TARGET#UNSPECIFIED"})
    roles = field_roles(ms)
    assert (roles.flux_calibrator, roles.bandpass_calibrator) == (FLUXCAL, FLUXCAL)
    assert roles.gain_calibrators == [GAINCAL] and roles.targets == ["N5921_2"]
    assert "CALIBRATE_FLUX or CALIBRATE_BANDPASS" in roles.reasons["flux_calibrator"]
    assert select_fields(ms, None, None)[:2] == ([GAINCAL], FLUXCAL)  # characterize
    assert field_roles(ms).bandpass_calibrator == FLUXCAL  # build-model's starting calibration
    assert resolve_fields(ms, CalibrateSettings()) == (FLUXCAL, GAINCAL, ["N5921_2"])

