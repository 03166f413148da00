"""Simulated tiles: the visibilities, gains and noise match the truth written beside them."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest

from calmodel.core.casa import casa_tools
from calmodel.simulate.corruptions import Gains
from calmodel.core.sky import Component, visibilities
from calmodel.simulate.stage import simulate
from calibration_checks import tile_beam
from conftest import VENV_BIN, run

SMALL = """
base: {preset}
observation: {{cycles: 1, spw_centres_ghz: [2.5, 3.5], channels_per_spw: 3}}
fields: {{targets: {{count: 1}}}}
sky: {{sources_per_field: 6}}
corruption: {{enabled: {corrupt}}}
noise: {{enabled: {noise}}}
"""


def small_tile(tmp_path_factory, name: str, preset: str = "vlass-like", seed: int = 7,
               corrupt: bool = True, noise: bool = True):
    out = tmp_path_factory.mktemp(name)
    config = out / "config.yaml"
    config.write_text(SMALL.format(preset=preset, corrupt=str(corrupt).lower(), noise=str(noise).lower()))
    simulate(out / "tile", seed, config=config)
    return out / "tile"


def read_rows(ms, columns, field_id=None):
    tb = casa_tools().tools.table()
    tb.open(str(ms))
    sub = tb.query(f"FIELD_ID=={field_id}") if field_id is not None else tb
    cols = {c: sub.getcol(c) for c in columns}
    if field_id is not None:
        sub.close()
    tb.close()
    return cols


def field_id(tile, role):
    tile_json = json.loads((tile / "tile.json").read_text())
    names = [tile_json["fields"]["flux_calibrator"], tile_json["fields"]["gain_calibrator"],
             *tile_json["fields"]["targets"]]
    name = tile_json["fields"][role] if role != "targets" else tile_json["fields"]["targets"][0]
    return names.index(name), tile_json


def truth_components(tile, which):
    if which == "calibrator":
        return [Component(**c) for c in json.loads((tile / "truth/calibrator.json").read_text())["components"]]
    with (tile / "truth/sky.csv").open() as handle:
        return [Component(**{k: (v if k == "field" else float(v)) for k, v in row.items()})
                for row in csv.DictReader(handle)]


def model_for(tile, fid, comps, pb):
    tile_json = json.loads((tile / "tile.json").read_text())
    cols = read_rows(tile / "tile.ms", ["UVW", "DATA_DESC_ID", "DATA"], fid)
    ra0, dec0 = list(tile_json["field_positions_deg"].values())[fid]
    model = np.zeros_like(cols["DATA"][0], dtype=complex)
    for spw in tile_json["spws"]:
        rows = cols["DATA_DESC_ID"] == spw["id"]
        model[:, rows] = visibilities(comps, cols["UVW"][:, rows], np.array(spw["chan_freq_hz"]), ra0, dec0, pb)
    return cols, model


@pytest.fixture(scope="module")
def clean_tile(tmp_path_factory):
    return small_tile(tmp_path_factory, "clean", corrupt=False, noise=False)


def test_uncorrupted_calibrator_equals_analytic_visibilities(clean_tile):
    fid, _ = field_id(clean_tile, "gain_calibrator")
    cols, model = model_for(clean_tile, fid, truth_components(clean_tile, "calibrator"), None)
    for pol in range(2):
        # complex64 storage: agreement to single precision of the 1-Jy core
        np.testing.assert_allclose(cols["DATA"][pol], model, rtol=0, atol=2e-6)


def test_uncorrupted_targets_equal_analytic_visibilities_with_primary_beam(clean_tile):
    fid, tile_json = field_id(clean_tile, "targets")
    comps = [c for c in truth_components(clean_tile, "sky") if c.field == tile_json["fields"]["targets"][0]]
    pb = tile_beam(clean_tile)
    cols, model = model_for(clean_tile, fid, comps, pb)
    np.testing.assert_allclose(cols["DATA"][0], model, rtol=0, atol=2e-7)


def test_casa_ft_of_truth_component_list_agrees(clean_tile, tmp_path):
    """Our sign and scale conventions are CASA's: ft(calibrator.cl) reproduces DATA."""
    ms = tmp_path / "copy.ms"
    shutil.copytree(clean_tile / "tile.ms", ms)
    fid, tile_json = field_id(clean_tile, "gain_calibrator")
    casa_tools().tasks.ft(vis=str(ms), field=tile_json["fields"]["gain_calibrator"],
                          complist=str(clean_tile / "truth/calibrator.cl"), usescratch=True)
    cols = read_rows(ms, ["DATA", "MODEL_DATA"], fid)
    np.testing.assert_allclose(cols["MODEL_DATA"], cols["DATA"], rtol=0, atol=2e-5)


@pytest.fixture(scope="module")
def noisy_pair(tmp_path_factory):
    """The same seed with and without noise: identical sky and gains, noise alone differs."""
    return (small_tile(tmp_path_factory, "noisy", seed=11),
            small_tile(tmp_path_factory, "noiseless", seed=11, noise=False))


def test_recorded_gains_reproduce_data_minus_noise(noisy_pair):
    _, noiseless = noisy_pair
    fid, _ = field_id(noiseless, "gain_calibrator")
    truth = np.load(noiseless / "truth/gains.npz")
    gains = Gains(truth["time_mjd_s"], truth["gain"], truth["bandpass"])
    cols, model = model_for(noiseless, fid, truth_components(noiseless, "calibrator"), None)
    extra = read_rows(noiseless / "tile.ms", ["TIME", "ANTENNA1", "ANTENNA2"], fid)
    t = np.searchsorted(gains.times, extra["TIME"])
    spw = cols["DATA_DESC_ID"]  # one data description per spw in simulated tiles
    a1, a2 = extra["ANTENNA1"], extra["ANTENNA2"]
    for pol in range(2):
        j1 = gains.gain[t, a1, spw, pol] * gains.bandpass[a1, spw, :, pol].T
        j2 = gains.gain[t, a2, spw, pol] * gains.bandpass[a2, spw, :, pol].T
        np.testing.assert_allclose(cols["DATA"][pol], j1 * model * np.conj(j2), rtol=0, atol=1e-5)
    # The gains are not trivial: phases wander by tens of degrees over the block.
    phase = np.degrees(np.angle(gains.gain[:, 1:, 0, 0] / gains.gain[:, :1, 0, 0]))
    assert np.median(np.ptp(np.unwrap(np.radians(phase), axis=0), axis=0)) > np.radians(10)


def test_noise_matches_stated_sigma(noisy_pair):
    noisy, noiseless = noisy_pair
    diff = read_rows(noisy / "tile.ms", ["DATA"])["DATA"] - read_rows(noiseless / "tile.ms", ["DATA"])["DATA"]
    sigma = json.loads((noisy / "tile.json").read_text())["noise_sigma_jy"]
    assert np.std(diff.real) == pytest.approx(sigma, rel=0.02)
    assert np.std(diff.imag) == pytest.approx(sigma, rel=0.02)
    assert np.all(np.isfinite(diff))
    weights = read_rows(noisy / "tile.ms", ["WEIGHT"])["WEIGHT"]
    assert weights[0, 0] == pytest.approx(1 / sigma**2, rel=1e-5)


def test_same_seed_identical_different_seed_differs(tmp_path_factory, noisy_pair):
    again = small_tile(tmp_path_factory, "again", seed=11)
    other = small_tile(tmp_path_factory, "other", seed=12)

    def digest(tile):
        return hashlib.sha256(read_rows(tile / "tile.ms", ["DATA"])["DATA"].tobytes()).hexdigest()

    assert digest(again) == digest(noisy_pair[0])
    assert (again / "truth/sky.csv").read_text() == (noisy_pair[0] / "truth/sky.csv").read_text()
    assert digest(other) != digest(again)


def binned_deviation(tile, edges_klambda=np.arange(0, 130, 10.0)):
    """Fractional deviation from a constant of the true calibrator amplitude, binned in uv-distance."""
    fid, tile_json = field_id(tile, "gain_calibrator")
    cols, model = model_for(tile, fid, truth_components(tile, "calibrator"), None)
    freqs = np.array([tile_json["spws"][d]["chan_freq_hz"] for d in cols["DATA_DESC_ID"]]).T
    uvdist = np.hypot(*cols["UVW"][:2])[None, :] * freqs / 299792458.0 / 1e3
    amp = np.abs(model)
    for spw in tile_json["spws"]:  # normalise per spw, as characterize does
        rows = cols["DATA_DESC_ID"] == spw["id"]
        amp[:, rows] /= np.median(amp[:, rows])
    centres, devs = [], []
    for lo, hi in zip(edges_klambda[:-1], edges_klambda[1:]):
        inside = (uvdist >= lo) & (uvdist < hi)
        if inside.sum() > 20:
            centres.append((lo + hi) / 2)
            devs.append(np.median(amp[inside]) - 1.0)
    return np.array(centres), np.array(devs)


@pytest.mark.parametrize("preset, in_band, out_band", [
    ("vlass-like", "above", None),
    ("point", "below", "below"),
    ("short-spacing", "below", "above"),
])
def test_calibrator_deviation_from_point_source(tmp_path_factory, preset, in_band, out_band):
    tile = small_tile(tmp_path_factory, preset.replace("-", "_"), preset=preset, corrupt=False, noise=False)
    centres, devs = binned_deviation(tile)
    band = (centres >= 35) & (centres <= 90)
    peak_in = np.max(np.abs(devs[band]))
    assert (peak_in > 0.03) if in_band == "above" else (peak_in < 0.03), (preset, centres, devs)
    if out_band is not None:
        below = centres < 35
        peak_below = np.max(np.abs(devs[below]))
        assert (peak_below > 0.03) if out_band == "above" else (peak_below < 0.03), (preset, centres, devs)


def test_flux_calibrator_matches_setjy_standard(clean_tile, tmp_path):
    """3C286 amplitudes on the shortest baselines equal setjy's Perley-Butler 2017 flux, per channel.

    (The simulation uses the S-band model image, so longer baselines see 3C286's
    slight resolution, ~2.5% at 10 km; the short baselines measure the total flux.)
    """
    ms = tmp_path / "copy.ms"
    shutil.copytree(clean_tile / "tile.ms", ms)
    fid, tile_json = field_id(clean_tile, "flux_calibrator")
    casa_tools().tasks.setjy(vis=str(ms), field=tile_json["fields"]["flux_calibrator"],
                             standard="Perley-Butler 2017", usescratch=True)  # point source, no image
    cols = read_rows(ms, ["DATA", "MODEL_DATA", "UVW", "DATA_DESC_ID"], fid)
    short = np.hypot(*cols["UVW"][:2]) < 1000.0
    for spw in tile_json["spws"]:
        rows = short & (cols["DATA_DESC_ID"] == spw["id"])
        measured = np.median(np.abs(cols["DATA"][0][:, rows]), axis=1)
        standard = np.median(np.abs(cols["MODEL_DATA"][0][:, rows]), axis=1)
        assert 8.0 < standard.min() and standard.max() < 12.0  # 3C286 at 2-4 GHz
        np.testing.assert_allclose(measured, standard, rtol=0.01)


def test_bad_preset_and_config_are_one_line_errors(tmp_path):
    proc = run([str(VENV_BIN / "calmodel"), "simulate", "--preset", "nope", "--out", str(tmp_path / "x")],
               check=False)
    assert proc.returncode == 2 and "unknown preset 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    config = tmp_path / "typo.yaml"
    config.write_text("observation: {integraton_s: 1}\n")
    proc = run([str(VENV_BIN / "calmodel"), "simulate", "--config", str(config), "--out", str(tmp_path / "y")],
               check=False)
    assert proc.returncode == 2 and "observation.integraton_s" in proc.stderr


def test_simulated_primary_beam_is_the_one_tclean_corrects_for(clean_tile, tmp_path):
    """The targets are attenuated with CASA's own beam: tclean's pb.tt0 (mtmfs at 3 GHz, the
    image that pbcor divides by) equals the simulator's beam at 3 GHz to 0.1%."""
    fid, tile_json = field_id(clean_tile, "targets")
    beam = tile_beam(clean_tile)
    assert beam is not None and beam.model.startswith("CASA")
    base = tmp_path / "pb"
    casa_tools().tasks.tclean(vis=str(clean_tile / "tile.ms"), field=str(fid), imagename=str(base),
                              imsize=[200, 200], cell="6arcsec", specmode="mfs", deconvolver="mtmfs",
                              nterms=2, reffreq="3.0GHz", niter=0, gridder="standard", pblimit=0.05)
    ia = casa_tools().tools.image()
    ia.open(f"{base}.pb.tt0")
    pb = np.asarray(ia.getchunk(), float).squeeze()
    ia.close()
    radius_pixels = np.arange(0, 100, 10)
    offsets_rad = radius_pixels * 6.0 * np.pi / (180 * 3600)
    expected = beam(offsets_rad, 0.0, 3.0e9)
    np.testing.assert_allclose(pb[100 + radius_pixels, 100], expected, atol=1e-3)
    assert expected[-1] < 0.5  # the comparison reaches well into the beam's fall-off
