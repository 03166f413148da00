"""Issue 10's acceptance: a criterion declared in advance with its sources, three outcomes
plus insufficient data, flip tolerances that do flip, the image noise judged, scopes apart.
Synthetic catalogue pairs (compare.json records), no CASA."""

from __future__ import annotations

import json
import math
import re

import pytest
from report_records import COEQUAL_CALIBRATOR, compare_record, image_record, tree, write

from calmodel.report import Criterion, report
from calmodel.report.criterion import SOURCES


def judged(tmp_path, compare: dict, criterion: Criterion = Criterion(), name="run", **tree_args):
    """Report one tile with one QL field; its record."""
    root = tree(tmp_path / name / "results", {"T01": {"F_ql": compare}}, **tree_args)
    return json.loads(report([root], tmp_path / name / "report", criterion).record.read_text())


# ---------------------------------------------------------------- the defaults and their sources


def test_defaults_are_the_documented_ones_with_their_sources():
    c = Criterion()
    assert c.nsigma == 3.0  # conventional detection threshold
    assert c.flux_threshold == 0.03  # VLASS SE users guide: 3% flux calibration accuracy
    assert c.rms_fraction == 1.0  # memo 4.2: offsets judged against the image RMS
    assert c.alpha_threshold == 0.2  # memo 4.2: expected spectral index uncertainty ~0.2
    assert c.rms_ratio_threshold == 0.05  # auto_selfcal (memo footnote 1): RMS change > 5%
    assert c.min_components == 10
    assert c.scope_ratio == 10.0  # memo Section 5: core > 10x any secondary component
    assert "VLASS Single Epoch users guide" in SOURCES["flux_threshold"]
    assert "3%" in SOURCES["flux_threshold"]
    assert "150 uJy" in SOURCES["rms_fraction"] and "Section 4.2" in SOURCES["rms_fraction"]
    assert "~0.2" in SOURCES["alpha_threshold"]
    assert "auto_selfcal" in SOURCES["rms_ratio_threshold"] and "5%" in SOURCES["rms_ratio_threshold"]
    assert "Section 5" in SOURCES["scope_ratio"] and "> 10 x" in SOURCES["scope_ratio"]
    assert "24%" in SOURCES["min_components"]
    assert set(SOURCES) == set(c.parameters())  # every parameter has a source


def test_criterion_text_and_sources_reach_report_json(tmp_path):
    rec = judged(tmp_path, compare_record())
    assert rec["criterion"]["sources"] == SOURCES
    text = rec["criterion"]["text"]
    for words in ("3 x its uncertainty", "3%", "offset / image RMS 1", "alpha offset 0.2",
                  "5% from 1", "fewer than 10 components", "> 10 x the next", "never together"):
        assert words in text, words


# ---------------------------------------------------------------- the outcomes


def test_zero_offset_is_no_detectable_change(tmp_path):
    rec = judged(tmp_path, compare_record(total=(0.0, 0.001, 0.02), peak=(0.0, 0.001, 0.02)))
    assert rec["tiles"]["T01"]["verdict"] == "no-detectable-change"
    outcomes = {c["quantity"]: c["outcome"] for c in rec["tiles"]["T01"]["modes"]["ql"]["checks"]}
    assert set(outcomes.values()) == {"no-detectable-change"}
    assert "Image RMS change (model / nomodel - 1)" in outcomes  # the noise is judged too


def test_small_precise_offset_is_detected_within_tolerance(tmp_path):
    # 1% +- 0.05% (20 sigma) of 2 mJy components: 20 uJy = 0.13 x the 150 uJy image RMS
    rec = judged(tmp_path, compare_record(total=(0.01, 0.0005, 0.01), flux_jy=2e-3))
    tile = rec["tiles"]["T01"]
    assert tile["verdict"] == "detected-within-tolerance"
    (reason,) = [r for r in tile["reasons"] if "Total_flux offset (fractional)" in r]
    assert reason.startswith("QL Total_flux offset (fractional) +1.00 ± 0.05% (20.0σ, n=196)")
    assert "detected (> 3σ), within the 3.00% tolerance" in reason
    assert "significant at a tolerance of 0.99% or less" in reason


def test_large_offset_is_significant(tmp_path):
    rec = judged(tmp_path, compare_record(total=(0.08, 0.002, 0.02), flux_jy=2e-3))
    tile = rec["tiles"]["T01"]
    assert tile["verdict"] == "significant-change"
    reason = next(r for r in tile["reasons"] if "Total_flux offset (fractional)" in r)
    assert "+8.00 ± 0.20% (40.0σ" in reason and "beyond the 3.00% tolerance" in reason
    assert "within tolerance at a tolerance of 8.00% or more" in reason


def test_few_components_are_insufficient_data(tmp_path):
    rec = judged(tmp_path, compare_record(total=(0.47, 0.03, 0.05), n=7))  # n_core = 3
    tile = rec["tiles"]["T01"]
    assert tile["verdict"] == "insufficient-data"
    assert any("insufficient data, 3 components in the fit < 10" in r for r in tile["reasons"])
    # ... and a smaller minimum judges it
    rec = judged(tmp_path, compare_record(total=(0.47, 0.03, 0.05), n=7),
                 Criterion(min_components=3), name="three")
    assert rec["tiles"]["T01"]["verdict"] == "significant-change"


def test_not_detected_says_what_it_cannot_exclude(tmp_path):
    rec = judged(tmp_path, compare_record(total=(0.05, 0.03, 0.1), peak=(0.0, 0.03, 0.1),
                                          flux_jy=2e-3))
    tile = rec["tiles"]["T01"]
    assert tile["verdict"] == "no-detectable-change"
    check = next(c for c in tile["modes"]["ql"]["checks"]
                 if c["quantity"] == "Total_flux offset (fractional)")
    assert check["flip_nsigma"] == pytest.approx(1.66)
    assert "cannot exclude a change up to 14.00%" in check["reason"]


# ---------------------------------------------------------------- the flip tolerance


def _printed_flip(reason: str) -> float:
    return float(re.search(r"at a tolerance of ([0-9.]+)%", reason).group(1)) / 100.0


@pytest.mark.parametrize("offset, before, after", [
    ((0.0167, 0.0013, 0.01), "detected-within-tolerance", "significant-change"),
    ((0.0473, 0.0013, 0.01), "significant-change", "detected-within-tolerance"),
])
def test_rerunning_with_the_printed_flip_tolerance_flips_the_verdict(tmp_path, offset, before,
                                                                    after):
    compare = compare_record(total=offset, flux_jy=2e-3)
    first = judged(tmp_path, compare)["tiles"]["T01"]
    assert first["verdict"] == before
    reason = next(r for r in first["reasons"] if "Total_flux offset (fractional)" in r)
    flip = _printed_flip(reason)
    check = next(c for c in first["modes"]["ql"]["checks"]
                 if c["quantity"] == "Total_flux offset (fractional)")
    assert check["flip_tolerance"] == pytest.approx(flip)
    again = judged(tmp_path, compare, Criterion(flux_threshold=flip), name="again")["tiles"]["T01"]
    assert again["verdict"] == after


# ---------------------------------------------------------------- both arms, and the noise


def test_image_noise_change_is_judged_with_both_arms(tmp_path):
    root = tree(tmp_path / "results", {"T01": {"F_se": compare_record(alpha=(0.0, 0.002, 0.1))}})
    write(root / "T01" / "image" / "F_se_model" / "image.json", image_record("F", "se", rms=1.05e-4))
    rec = json.loads(report([root], tmp_path / "report").record.read_text())
    se = rec["tiles"]["T01"]["modes"]["se"]
    assert se["fields"]["F"]["rms_by_arm"] == {"model": 1.05e-4, "nomodel": 1.5e-4}
    assert se["rms_ratio"]["mean"] == pytest.approx(0.7)
    # 480^2 pixels of 0.6" and a 2.5" x 2.0" beam: 14,640 beams, 0.96% per arm
    assert se["rms_ratio"]["mean_err"] == pytest.approx(0.7 * 2**0.5 * 1.166 / 14640**0.5, rel=1e-3)
    assert rec["tiles"]["T01"]["verdict"] == "significant-change"
    assert any(r.startswith("SE Image RMS change (model / nomodel - 1) -30.0 ± 1.0% (31.4σ)")
               for r in rec["tiles"]["T01"]["reasons"])


# ---------------------------------------------------------------- scope


def test_scopes_are_judged_apart(tmp_path):
    root = tree(tmp_path / "results", {"IN": {"F_ql": compare_record()},
                                       "OUT": {"F_ql": compare_record(total=(0.47, 0.03, 0.3))}},
                calibrators={"OUT": COEQUAL_CALIBRATOR})
    rec = json.loads(report([root], tmp_path / "report").record.read_text())
    assert rec["tiles"]["OUT"]["scope"]["ratio"] == pytest.approx(1.2)
    assert rec["tiles"]["OUT"]["scope"]["separation_arcsec"] == pytest.approx(3.25, abs=0.01)
    assert rec["overall"]["in-scope"]["tiles"] == ["IN"]
    assert rec["overall"]["in-scope"]["verdict"] == "no-detectable-change"
    assert rec["overall"]["out-of-scope"]["verdict"] == "significant-change"
    assert rec["overall"]["in-scope"]["modes"]["ql"]["counts"]["matched"] == 200  # not pooled


# ---------------------------------------------------------------- calibrator model vs truth


def test_calibrator_model_is_shown_against_its_truth(tmp_path):
    """A coequal double (0.6 + 0.5 Jy) modelled as 0.55 Jy on the primary, a -0.02 Jy pixel
    nearer the primary than the secondary, and 0.35 Jy on the secondary: the primary holds
    0.53/0.6, the secondary 0.35/0.5, the total 0.88/1.1; shown in the model's table."""
    root = tree(tmp_path / "results", {"OUT": {"F_ql": compare_record()}},
                calibrators={"OUT": COEQUAL_CALIBRATOR})
    record = root / "OUT" / "build_model" / "build_model.json"
    ra0, dec0 = 94.5, -11.5
    pixels = [(0.3, 0.0, 0.0), (0.25, 0.4, 0.0), (-0.02, 1.0, 1.0), (0.35, 2.2, 2.4)]
    data = json.loads(record.read_text())
    data["components"] = [{"ra_deg": ra0 + east / 3600.0 / math.cos(math.radians(dec0)),
                           "dec_deg": dec0 + north / 3600.0, "flux_jy": flux}
                          for flux, east, north in pixels]
    write(record, data)
    out = tmp_path / "report"
    rec = json.loads(report([root], out).record.read_text())
    against = rec["tiles"]["OUT"]["model_vs_truth"]
    assert [c["ratio"] for c in against["components"]] == pytest.approx([0.53 / 0.6, 0.35 / 0.5])
    assert against["total_ratio"] == pytest.approx(0.88 / 1.1)
    assert "components 0.88, 0.70; total 0.80" in (out / "tables.md").read_text()
