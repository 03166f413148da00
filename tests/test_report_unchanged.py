"""The report package gives the same numbers as the single-module report it replaced
(src/calmodel/report.py at 2bf7ac4), on the same hand-written records."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import REPO
from report_records import compare_record, truth_arm, tree

from calmodel.report import Criterion, report

BEFORE = "2bf7ac4"


@pytest.fixture(scope="module")
def old_report(tmp_path_factory):
    """The old module, loaded from git history under another name."""
    proc = subprocess.run(["git", "-C", str(REPO), "show", f"{BEFORE}:src/calmodel/report.py"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"git history without {BEFORE} (shallow clone?): {proc.stderr.strip()}")
    path = tmp_path_factory.mktemp("old") / "calmodel_report_before.py"
    path.write_text(proc.stdout)
    spec = importlib.util.spec_from_file_location("calmodel_report_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


CASES = {
    "memo-like, two tiles, truth and alpha": {
        "T08t10": {"TARGET_ql": compare_record(total=(0.0068, 0.0001, 0.034), n=2500),
                   "TARGET_se": compare_record(alpha=(-0.065, 0.002, 0.112),
                                               truth={"model": truth_arm(1.004, 0.003),
                                                      "nomodel": truth_arm(0.99, 0.003)})},
        "T14t15": {"TARGET_ql": compare_record(n=200),
                   "OTHER_ql": compare_record(total=(0.01, 0.004, 0.02), n=60),
                   "TARGET_se": compare_record(alpha=(0.031, 0.001, 0.07))}},
    "one field, a significant offset": {
        "T01": {"F_ql": compare_record(total=(0.05, 0.002, 0.01), peak=(-0.04, 0.002, 0.02))}},
    "tiles agree only when combined": {
        "T01": {"F_ql": compare_record(total=(0.012, 0.005, 0.05))},
        "T02": {"F_ql": compare_record(total=(0.012, 0.005, 0.05))}},
}


def numbers_of(record: dict) -> dict:
    """What must not change: the criterion, every tile's numbers and verdicts, the overall."""
    return {"criterion": record["criterion"], "tiles": record["tiles"],
            "overall": record["overall"], "warnings": record["warnings"]}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("flux_threshold", [0.03, 0.01])
def test_same_numbers_as_before(case, flux_threshold, old_report, tmp_path):
    root = tree(tmp_path / "results", CASES[case])
    new = report([root], tmp_path / "new", Criterion(flux_threshold=flux_threshold))
    old = old_report.report([root], tmp_path / "old",
                            old_report.Criterion(flux_threshold=flux_threshold))
    new_numbers = numbers_of(json.loads(new.record.read_text()))
    old_numbers = numbers_of(json.loads(old.record.read_text()))
    assert new_numbers == old_numbers
