"""On-the-fly-like (OTF) tiles and mosaic imaging (issue 17).

An OTF tile (preset ``otf-stripe``) is a row of adjacent phase centres visited a few
integrations each per pass, one scan per pass, with a sky spread over the whole stripe; a
mosaic image (``calmodel image --mosaic``) images them jointly.

Criteria (issue 17, written before the results):
- the schedule: one scan per pass holding every phase centre in order, each for
  ``integrations_per_field`` integrations, no gap; phase centres ``spacing_arcmin`` apart;
- every phase centre sees the whole stripe's sky through its own primary beam: its DATA
  (no noise, no corruption) equal the exact visibilities of all sources attenuated by the
  beam at their offsets from that phase centre (to 1e-5 of the peak amplitude, float32);
- the SE mosaic image (the photometric product; QL: see the xfail's comment) recovers the
  truth fluxes of the sources lying *between* phase centres
  (farther than a quarter of the spacing from every phase centre) within the closure
  tolerances (tests/test_closure.py, docs/closure.md): over S/N >= 50 components the median
  measured/true within 2% of 1, each within 3% or 3x its own fit error (>1%), at least 5;
- a per-field image (one phase centre, ``standard`` gridder) holds about 1/N_eff of the data
  at a position: N_eff ~ sum of the members' power beams^2 ~ 7.5 for 15' beams 1.5' apart,
  so its RMS is expected ~2.7x the mosaic's; we require >= 2x.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from calmodel import CalmodelError
from calmodel.core.casa import casa_tools
from calmodel.core.primary_beam import RadialBeam
from calmodel.core.sky import ARCSEC, Component, direction_cosines, visibilities
from calmodel.imaging.mosaic import beam_radius_arcsec, mosaic_geometry, mosaic_members
from calmodel.simulate.config import load_settings, observation_settings
from calmodel.simulate.stage import make_fields, make_schedule, simulate
from conftest import VENV_BIN, run

CALMODEL = str(VENV_BIN / "calmodel")
SNR_MIN, TOLERANCE, MAX_DEVIATION, PRECISE = 50.0, 0.02, 0.03, 0.01

TINY = """base: otf-stripe
observation: {spw_centres_ghz: [2.5, 3.5], channels_per_spw: 1, cycles: 1, flux_scan_s: 10.0,
              gain_scan_s: 10.0}
fields: {targets: {count: 6}}
sky: {sources_per_field: 2}
corruption: {enabled: false}
noise: {enabled: false}
"""
# The acceptance tile: 12 phase centres 1.5' apart, the demo's noise, no corruption
# (calibration is not what a mosaic changes; the closure ladder covers it). C configuration
# instead of VLASS's B: a mosaic image must hold the primary beam down to pblimit around the
# stripe (~45' x 28' at 2.25 GHz), 1280 x 720 pixels of 2.4" here against ~3700 x 2300 of
# 0.74" in B, which would not fit the test budget; sources 20" apart for the ~7" beam.
ACCEPTANCE = """base: otf-stripe
observation: {channels_per_spw: 1, array_config: vla.c.cfg}
fields: {targets: {count: 12}}
sky: {min_separation_arcsec: 20.0}
corruption: {enabled: false}
"""


def test_otf_schedule_is_one_scan_per_pass():
    settings = load_settings("otf-stripe")
    obs = observation_settings(settings)
    fields = make_fields(settings, casa_tools())
    targets = fields[2:]
    scans = make_schedule(obs, fields)
    passes = {}
    for scan in scans:
        if scan.field.role == "target":
            passes.setdefault(scan.number, []).append(scan)
    assert len(passes) == obs.cycles
    dwell = obs.integrations_per_field * obs.integration_s
    for members in passes.values():
        assert [s.field.name for s in members] == [t.name for t in targets]
        assert all(s.stop_s - s.start_s == pytest.approx(dwell) for s in members)
        assert all(b.start_s == pytest.approx(a.stop_s) for a, b in zip(members, members[1:]))
    l, m, _ = direction_cosines(np.array([t.ra_deg for t in targets]), np.array([t.dec_deg for t in targets]),
                                targets[0].ra_deg, targets[0].dec_deg)
    steps = np.hypot(np.diff(l), np.diff(m)) / ARCSEC / 60.0
    assert steps == pytest.approx(settings["fields"]["targets"]["spacing_arcmin"], rel=1e-4)


@pytest.fixture(scope="module")
def tiny_tile(tmp_path_factory):
    out = tmp_path_factory.mktemp("otf_tiny")
    (out / "config.yaml").write_text(TINY)
    simulate(out / "tile", 3, config=out / "config.yaml")
    return out / "tile"


def test_every_phase_centre_sees_the_whole_stripe(tiny_tile):
    record = json.loads((tiny_tile / "tile.json").read_text())
    targets = record["fields"]["targets"]
    assert record["target_layout"] == "stripe" and len(targets) == 6
    with (tiny_tile / "truth" / "sky.csv").open() as handle:
        sky = [Component(**{k: (v if k == "field" else float(v)) for k, v in row.items()})
               for row in csv.DictReader(handle)]
    assert len(sky) == 12 and {c.field for c in sky} <= set(targets)
    beam = RadialBeam.from_record(json.loads((tiny_tile / "truth" / "primary_beam.json").read_text()))
    tools = casa_tools().tools
    tb = tools.table()
    tb.open(str(tiny_tile / "tile.ms" / "SPECTRAL_WINDOW"))
    chan_freq = tb.getcol("CHAN_FREQ").T
    tb.close()
    tb.open(str(tiny_tile / "tile.ms"))
    try:
        for name in (targets[0], targets[-1]):
            fid = record["field_positions_deg"][name]
            index = list(record["field_positions_deg"]).index(name)
            sub = tb.query(f"FIELD_ID=={index} && DATA_DESC_ID==0")
            data, uvw = sub.getcol("DATA")[0], sub.getcol("UVW")
            sub.close()
            expected = visibilities(sky, uvw, chan_freq[0], fid[0], fid[1], beam)
            assert np.max(np.abs(data - expected)) <= 1e-5 * np.max(np.abs(expected)), name
    finally:
        tb.close()


def test_mosaic_members_and_geometry(tiny_tile):
    ms = tiny_tile / "tile.ms"
    record = json.loads((tiny_tile / "tile.json").read_text())
    targets = record["fields"]["targets"]
    assert mosaic_members(ms, None) == targets
    assert mosaic_members(ms, "P0[1-3],P06") == ["P01", "P02", "P03", "P06"]
    for bad in ("Q*", "P01;rm -rf /", "P01 P02"):
        with pytest.raises(CalmodelError):
            mosaic_members(ms, bad)
    # The margin a mosaic needs: where the VLA power beam falls to 0.2. A Gaussian of FWHM
    # 42'/nu_GHz puts it at 0.5 x 42'/2.5 x sqrt(ln 5 / ln 2) = 766" at 2.5 GHz; CASA's beam
    # is not Gaussian: within 15%.
    assert beam_radius_arcsec(ms, targets[0], 0.2, 2.5e9) == pytest.approx(766.0, rel=0.15)
    geometry = mosaic_geometry(ms, targets, 0.73, 90.0, 64)
    east = [e for e, _ in geometry.offsets_arcsec.values()]
    assert max(east) == pytest.approx(-min(east), abs=0.01)  # centred on the stripe
    assert max(east) - min(east) == pytest.approx(5 * 90.0, rel=1e-3)
    nx, ny = geometry.imsize
    assert nx * 0.73 >= 5 * 90.0 + 2 * 90.0 and ny * 0.73 >= 2 * 90.0


def _closure(compare_dir: Path, positions: dict, spacing_arcsec: float) -> dict:
    record = json.loads((compare_dir / "compare.json").read_text())
    table = Table.read(compare_dir / "truth_model.csv", format="ascii.csv")
    ra, dec = np.asarray(table["ra_deg"], float), np.asarray(table["dec_deg"], float)
    nearest = np.min([np.hypot(*direction_cosines(ra, dec, p[0], p[1])[:2]) / ARCSEC
                      for p in positions.values()], axis=0)
    between = nearest >= spacing_arcsec / 4.0
    bright = table[(np.asarray(table["true_snr"], float) >= SNR_MIN) & between]
    ratio = np.asarray(bright["ratio"], float)
    own = np.asarray(bright["E_Total_flux"], float) / np.asarray(bright["Total_flux"], float)
    allowed = np.maximum(MAX_DEVIATION, 3.0 * np.where(own > PRECISE, own, 0.0))
    return {"n": len(bright), "median": float(np.median(ratio)) if len(ratio) else np.nan,
            "deviation": np.abs(ratio - 1.0), "allowed": allowed, "rows": bright,
            "rms": record["truth"]["model"]["rms_jy_per_beam"]}


@pytest.fixture(scope="module")
def acceptance_tile(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("acceptance")
    (root / "config.yaml").write_text(ACCEPTANCE)
    run([CALMODEL, "simulate", "--config", str(root / "config.yaml"), "--seed", "7", "--out", str(root / "tile")])
    return root / "tile"


def _image_and_close(tile: Path, out: Path, mode: str) -> dict:
    """The mosaic of all phase centres and the per-field image of the middle one, each through
    image -> catalog -> compare --truth, reduced to the closure statistics between phase centres."""
    record = json.loads((tile / "tile.json").read_text())
    targets = record["fields"]["targets"]
    positions = {t: record["field_positions_deg"][t] for t in targets}
    spacing = record["settings"]["fields"]["targets"]["spacing_arcmin"] * 60.0
    results = {}
    for label, selection in (("mosaic", ["--mosaic", "S1"]), ("field", ["--field", targets[len(targets) // 2]])):
        img = out / f"img_{mode}_{label}"
        # an SE mosaic of this stripe takes 30-60 min here (docs/closure.md "Mosaics")
        run([CALMODEL, "image", "--ms", str(tile / "tile.ms"), *selection, "--mode", mode, "--out", str(img)],
            timeout=5400)
        fits = next(img.glob("*.image.tt0.fits"))
        alpha = ([] if mode == "ql" else ["--alpha", str(fits).replace(".image.tt0.", ".alpha."),
                                          "--alpha-error", str(fits).replace(".image.tt0.", ".alpha.error.")])
        cat = out / f"cat_{mode}_{label}"
        run([CALMODEL, "catalog", "--image", str(fits), *alpha, "--out", str(cat)])
        cmp = out / f"cmp_{mode}_{label}"
        run([CALMODEL, "compare", "--model", str(cat / "catalog.fits"), "--nomodel", str(cat / "catalog.fits"),
             "--truth", str(tile / "truth" / "sky.csv"), "--out", str(cmp)])
        results[label] = _closure(cmp, positions, spacing)
        results[label]["image"] = json.loads((img / "image.json").read_text())
    print({k: {"n": v["n"], "median": v["median"], "rms": v["rms"], "ratios": list(v["rows"]["ratio"]),
               "resources": v["image"]["resources"]} for k, v in results.items()})
    return results


def _assert_closure(results: dict) -> None:
    mosaic = results["mosaic"]
    assert mosaic["image"]["gridder"] == "mosaic"
    assert mosaic["n"] >= 5, f"only {mosaic['n']} components of S/N >= {SNR_MIN} between phase centres"
    assert abs(mosaic["median"] - 1.0) <= TOLERANCE, mosaic["median"]
    worst = int(np.argmax(mosaic["deviation"] - mosaic["allowed"]))
    assert np.all(mosaic["deviation"] <= mosaic["allowed"]), mosaic["rows"][worst]
    assert results["field"]["rms"] >= 2.0 * mosaic["rms"], (results["field"]["rms"], mosaic["rms"])


# Which product is held to the closure tolerances (decided from the VLASS recipes, session 7):
# SE, the survey's product for photometry: VLASS-SE-CONT cleans deeper, with self-calibration,
# cyclefactor 3 and (final image) scales [0, 5, 12] px (NRAO pipeline,
# ImageParamsHeuristicsVlassSeCont; ours: points only), while VLASS QL cleans shallow with points
# only and its catalogue fluxes are documented as ~10-15% low (Gordon et al. 2021, ApJS 255,
# 30). Our QL mosaic keeps the QL recipe; its measured shortfall on resolved sources is the
# xfail below (docs/closure.md "Mosaics"), strict so that a pass is noticed, and only on an
# assertion so that a broken harness is not taken for the known shortfall.
@pytest.mark.slow
def test_se_mosaic_recovers_sources_between_phase_centres(acceptance_tile, tmp_path):
    results = _image_and_close(acceptance_tile, tmp_path, "se")
    selfcal = results["mosaic"]["image"]["selfcal"]
    # The self-cal model clean converged and gaincal solved (the uncorrupted tile's phases ~0).
    assert "fraction_flagged" in selfcal, selfcal
    _assert_closure(results)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="the VLASS QL recipe cleans points only: in a mosaic, sources of "
                   "~0.45 beam lose 9-12% of their flux to the wings (docs/closure.md 'Mosaics')")
def test_ql_mosaic_recovers_sources_between_phase_centres(acceptance_tile, tmp_path):
    _assert_closure(_image_and_close(acceptance_tile, tmp_path, "ql"))
