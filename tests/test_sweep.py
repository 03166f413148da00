"""The calibrator-structure sweep (issue 15, docs/sweep.md): the description expanded into
tiles, bad descriptions refused, the 3% rule scored, and a 2 x 2 sweep through the workflow."""

from __future__ import annotations

import csv
import json
import math

import pytest
import yaml

from calmodel import CalmodelError
from calmodel.core.sweep_points import read_points
from calmodel.report.sweep_map import best_threshold, confusion, outcome_of
from calmodel.simulate.sweep import expand_sweep, read_sweep
from conftest import REPO, VENV_BIN, run

TINY = REPO / "assets" / "sweep" / "tiny.yaml"
DEFAULT = REPO / "assets" / "sweep" / "default.yaml"
# VLA B configuration: longest baseline 11.1 km (NRAO, VLA Observational Status Summary)
VLA_B_MAX_M = 11.1e3


def test_default_grid_is_the_issues(tmp_path):
    sweep = read_sweep(DEFAULT)
    assert sweep.grid["flux_ratio"] == [0.01, 0.03, 0.1, 0.3, 1.0]
    assert sweep.grid["separation_beams"] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert sweep.size == "small"


def test_expansion_places_the_secondary(tmp_path):
    result = expand_sweep(TINY, tmp_path)
    # the synthesized beam lambda_c / B_max: 3 GHz, the VLA B configuration's 11.1 km
    expected_beam = 299_792_458.0 / 3e9 / VLA_B_MAX_M * 180 * 3600 / math.pi
    assert result.beam_arcsec == pytest.approx(expected_beam, rel=0.01)
    points = read_points(result.points)
    assert len(points) == 4 and result.n_points == 4
    rows = list(csv.DictReader(result.samplesheet.open()))
    assert [r["tile"] for r in rows] == [p.tile for p in points]
    assert all(r["build_model"] == "always" and r["preset"] == "point" for r in rows)
    far = next(p for p in points if p.flux_ratio == 1.0 and p.separation_beams == 8.0)
    config = yaml.safe_load((tmp_path / "configs" / f"{far.tile}.yaml").read_text())
    primary, secondary = config["calibrator"]["components"]
    assert primary["east_arcsec"] == 0 and primary["flux_jy"] == 1.0
    assert math.hypot(secondary["east_arcsec"], secondary["north_arcsec"]) == pytest.approx(8 * result.beam_arcsec, rel=1e-3)
    assert secondary["flux_jy"] == pytest.approx(1.0) and secondary["alpha"] == -0.7
    # the small size: one target field, 2 spws of 3 channels, one cycle
    assert config["observation"]["channels_per_spw"] == 3 and config["fields"]["targets"]["count"] == 1
    assert json.loads((tmp_path / "sweep.json").read_text())["n_points"] == 4


@pytest.mark.parametrize("text, message", [
    ("grid: {flux_ratio: [0]}", "flux_ratio: 0 not in (0, 1]"),
    ("grid: {flux_ratio: [2]}", "flux_ratio: 2 not in (0, 1]"),
    ("grid: {separation_beams: [-1]}", "separation_beams: -1 not in"),
    ("grid: {flux_ratio: [a]}", "'a' is not a finite number"),
    ("grid: {flux_ratio: [.nan]}", "is not a finite number"),
    ("grid: {n_secondaries: [1.5]}", "not a whole number"),
    ("grid: {flux_ratio: [0.1, 0.1]}", "appears twice"),
    ("grid: {ratio: [0.1]}", "unknown grid axis ratio"),
    ("colour: red", "unknown key(s) colour"),
    ("size: huge", "size 'huge' is not one of"),
    ("modes: xx", "modes 'xx' is not one of"),
    ("simulation: {calibrator: {}}", "the grid sets the calibrator"),
    ("simulation: {sky: {nonsense: 1}}", "unknown setting 'simulation.sky.nonsense'"),
    ("- a list", "expected a mapping"),
])
def test_bad_descriptions_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CalmodelError) as err:
        expand_sweep(path, tmp_path / "out")
    assert message in str(err.value)


def test_cli_refuses_with_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grid: {flux_ratio: [0]}")
    proc = run([str(VENV_BIN / "calmodel"), "sweep", "--sweep", str(path), "--out", str(tmp_path / "o")], check=False)
    assert proc.returncode == 2 and "flux_ratio: 0 not in (0, 1]" in proc.stderr
    assert not (tmp_path / "o" / "samplesheet.csv").exists()


def _row(tile, decision, deviation, verdict):
    return {"tile": tile, "decision": decision, "max_dev_in_band": deviation, "outcome": outcome_of(verdict)}


def test_rule_scored_against_the_outcome():
    rows = [_row("a", "point", 0.01, "no-detectable-change"),
            _row("b", "model-needed", 0.05, "detected-within-tolerance"),   # false alarm
            _row("c", "model-needed", 0.20, "significant-change"),
            _row("d", "uvrange", 0.02, "significant-change"),               # miss
            _row("e", "model-needed", 0.40, "insufficient-data")]           # not scored
    table = confusion(rows)
    assert table["false_alarms"] == ["b"] and table["misses"] == ["d"]
    assert table["n_scored"] == 4 and table["correct"] == 2
    assert table["counts"]["model-needed"] == {"change": 1, "no-change": 1, "insufficient": 1}
    best = best_threshold(rows)
    # flag above t: t in [0.05, 0.20) gets a, b right and c right, d wrong -> 1 error;
    # t in [0.01, 0.02) flags b, c, d: b wrong -> 1 error; the lowest interval is reported
    assert best["errors"] == 1 and best["threshold_low"] == 0.01 and best["threshold_high"] == 0.02
    assert best["all_best"] == [0.01, 0.05]


def test_a_perfect_rule_has_no_errors():
    rows = [_row("a", "point", 0.01, "no-detectable-change"), _row("b", "model-needed", 0.3, "significant-change")]
    best = best_threshold(rows)
    assert best["errors"] == 0 and (best["threshold_low"], best["threshold_high"]) == (0.01, 0.3)
    assert confusion(rows)["correct"] == 2


def test_sweep_through_the_workflow(tmp_path):
    """`-profile sweep` with the 2 x 2 corners: the map and the confusion table are made,
    and the co-equal, well-separated double and the faint, unresolved secondary come out on
    opposite sides of the criterion."""
    run([str(VENV_BIN / "nextflow"), "run", str(REPO), "-profile", "sweep", "--sweep", str(TINY),
         "--outdir", "results"], cwd=tmp_path, timeout=1800)
    report = tmp_path / "results" / "report"
    sweep = json.loads((report / "report.json").read_text())["sweep"]
    outcomes = {p["tile"]: p["outcome"] for p in sweep["points"]}
    assert len(outcomes) == 4
    assert outcomes["r1_sep8_alpha-0.7_n1_seed1"] == "change"
    assert outcomes["r0.01_sep0.5_alpha-0.7_n1_seed1"] == "no-change"
    assert (report / "sweep" / "sweep_map_alpha-0.7_n1.png").stat().st_size > 10_000
    confusion_rows = list(csv.DictReader((report / "sweep" / "confusion.csv").open()))
    assert sum(int(r["change"]) + int(r["no-change"]) + int(r["insufficient"]) for r in confusion_rows) == 4
    assert "Sweep: the 3% rule against the outcome" in (report / "tables.md").read_text()
    assert (tmp_path / "results" / "sweep" / "points.csv").is_file()


def test_map_drawn_for_every_alpha_with_seeds_combined(tmp_path):
    from calmodel.report.sweep_figure import sweep_figures

    rows = []
    for alpha in (-0.7, 0.0):
        for ratio in (0.01, 0.1, 1.0):
            for seed in (1, 2):
                changed = ratio == 1.0
                rows.append({"tile": f"r{ratio}_a{alpha}_s{seed}", "flux_ratio": ratio, "separation_beams": 2.0,
                             "secondary_alpha": alpha, "n_secondaries": 1, "seed": seed,
                             "decision": "model-needed" if ratio >= 0.1 else "point",
                             "max_dev_in_band": ratio / 3, "outcome": "change" if changed else "no-change",
                             "ql_flux_offset_rms": -3.0 * ratio, "ql_flux_offset_frac": None,
                             "ql_rms_ratio": 1 - ratio / 2, "ql_nomodel_over_true": 1.0})
    drawn = sweep_figures(rows, ["ql"], 10.0, tmp_path)
    assert [p.name for p, _ in drawn] == ["sweep_map_alpha-0.7_n1.png", "sweep_map_alpha0_n1.png"]
    assert all(p.stat().st_size > 10_000 for p, _ in drawn)
