"""Calibrator models by self-calibration, measured against the true calibrator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration_checks import truth_calibrator
from calmodel.build_model.settings import BuildModelSettings
from calmodel.build_model.stage import build_model
from calmodel.core.components import read_components
from calmodel.simulate.stage import simulate
from conftest import VENV_BIN, run
from model_checks import match_model_to_truth

GAIN = "J1407+2827"
BEAM_ARCSEC = 2.0  # B configuration at S band, robust 0.5


@pytest.fixture(scope="module", params=["vlass-like",
                                        pytest.param("coequal-double", marks=pytest.mark.slow)])
def built(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    simulate(base / "tile", 2, preset=request.param)
    result = build_model(base / "tile" / "tile.ms", base / "model", BuildModelSettings(field=GAIN))
    return base, result


def test_components_match_truth(built, request):
    """Positions within 0.1 beam; flux ratios to the brightest component within 10%.

    Self-calibration keeps the flux scale of its starting calibration (solnorm=True): the
    bandpass from 3C286 at the start of the block, so antenna gain drifts since then go
    into the model's scale. Measured: +0.7% (vlass-like), +11% (coequal-double, seed 2).
    The pipeline's calibrate stage re-bootstraps the scale (--flux-scale bootstrap).
    """
    base, result = built
    if base.name.startswith("coequal-double"):
        # Known, not fixed (docs/build-model.md "Limitations"): since the negative-flux guard
        # (commit 9ffb023) the model is solint inf's, whose secondary is 0.73 of the truth.
        request.applymarker(pytest.mark.xfail(strict=True, reason="coequal double: the guard keeps solint inf"))
    truth = truth_calibrator(base / "tile")
    matched = match_model_to_truth(result.model_cl, truth)
    for m in matched:
        assert m.offset_arcsec < 0.1 * BEAM_ARCSEC, matched
    ratios = [(m.model_flux / matched[0].model_flux) / (m.true_flux / matched[0].true_flux) for m in matched[1:]]
    assert np.all(np.abs(np.array(ratios) - 1) < 0.10), (ratios, matched)
    total = sum(c.flux_jy for c in read_components(result.model_cl))
    assert total == pytest.approx(sum(c.flux_jy for c in truth), rel=0.15)


def test_selfcal_lowers_rms_and_records_every_round(built):
    base, result = built
    record = json.loads(result.record.read_text())
    assert record["final_rms_jy"] < record["initial_rms_jy"]
    assert [r["solint"] for r in record["rounds"]][0] == "inf"
    for r in record["rounds"]:
        assert {"peak_jy", "rms_jy", "snr", "near_field_snr", "beam_major_arcsec", "model_negative_jy"} <= set(r["pre"])
        assert r["reason"]
    assert record["chosen_solint"] in record["solints"]
    assert (base / "model" / "model.tt0").is_dir() and (base / "model" / "model.tt1").is_dir()
    assert (base / "model" / "selfcal_rounds.png").stat().st_size > 5000


def test_mask_expansion_reruns_the_rounds_but_not_the_dirty_image(built):
    """The memo reruns the whole procedure once with an expanded mask, exactly when the last
    round of the first run shows emission outside the mask (its missed_pixels). The dirty
    image, made without a mask, is the same image in both runs, so it is made once: tclean
    runs once for it and twice per round of each run."""
    base, result = built
    record = json.loads(result.record.read_text())
    earlier, final = record["earlier_runs"], record["rounds"]
    assert record["mask_expanded"] == bool(earlier) and len(earlier) <= 1
    if earlier:
        assert earlier[0][-1]["missed_pixels"] > 0
    else:
        assert final[-1]["missed_pixels"] == 0
    extra = 0 if record["model_source"].startswith("post-selfcal") else 1  # the input's deep image
    tcleans = (base / "model" / "casa.log").read_text().count("Begin Task: tclean")
    assert tcleans == 1 + 2 * (sum(len(run) for run in earlier) + len(final)) + extra


def test_unknown_field_is_a_one_line_error(tmp_path, built):
    base, _ = built
    proc = run([str(VENV_BIN / "calmodel"), "build-model", "--ms", str(base / "tile" / "tile.ms"),
                "--field", "NOPE", "--out", str(tmp_path / "o")], check=False)
    assert proc.returncode == 2 and "field 'NOPE'" in proc.stderr and "Traceback" not in proc.stderr
