"""Discovery from the workflow's manifest: identity from its rows, every row validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import VENV_BIN, run
from report_records import compare_record, image_record, write

from calmodel import CalmodelError
from calmodel.report import read_manifest, report

HEADER = "tile,field,mode,arm,stage,path"


def hashed_work_dir(root: Path) -> list[str]:
    """Records under Nextflow-like hashed folders whose names say nothing; the manifest rows."""
    rows = []
    for tile, offset in (("T01", 0.05), ("T02", 0.0)):
        compare = write(root / f"ab{tile}" / "compare.json",
                        compare_record(total=(offset, 0.002, 0.02)))
        rows.append(f"{tile},J0618_m10,se,,compare,{compare.relative_to(root)}")
        for arm, rms in (("model", 1.0e-4), ("nomodel", 2.0e-4)):
            image = write(root / f"cd{tile}{arm}" / "image.json",
                          image_record("J0618_m10", "se", rms=rms))
            rows.append(f"{tile},J0618_m10,se,{arm},image,{image}")  # absolute path
    return rows


def write_manifest(root: Path, rows: list[str]) -> Path:
    path = root / "manifest.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_identity_comes_from_the_manifest(tmp_path):
    root = tmp_path / "work"
    manifest = write_manifest(root, hashed_work_dir(root))
    result = report([], tmp_path / "report", manifest=manifest)
    rec = json.loads(result.record.read_text())
    assert sorted(rec["tiles"]) == ["T01", "T02"]
    images = rec["tiles"]["T01"]["images"]
    assert sorted((i["arm"], i["rms_jy"]) for i in images) == [("model", 1e-4), ("nomodel", 2e-4)]
    assert all(set(r["identified_by"].values()) == {"manifest"} for r in rec["records"])
    assert rec["parameters"]["manifest"] == str(manifest)
    se = rec["tiles"]["T01"]["modes"]["se"]
    assert list(se["fields"]) == ["J0618_m10"]


def test_cli_uses_only_the_manifest(tmp_path):
    root = tmp_path / "work"
    manifest = write_manifest(root, hashed_work_dir(root))
    write(root / "stray" / "compare.json", compare_record())  # not listed: never read
    out = tmp_path / "report"
    proc = run([str(VENV_BIN / "calmodel"), "report", "--manifest", str(manifest), "--out", str(out)])
    assert "2 tiles" in proc.stdout
    rec = json.loads((out / "report.json").read_text())
    assert not any("stray" in r["path"] for r in rec["records"])
    both = run([str(VENV_BIN / "calmodel"), "report", "--manifest", str(manifest), "--out",
                str(out), str(root)], check=False)
    assert both.returncode == 2 and "not both" in both.stderr


BAD_ROWS = {
    "unknown mode": ("T01,F,xl,,compare,{c}", "line 2, column 'mode': 'xl' is not one of ql, se"),
    "unknown arm": ("T01,F,se,both,image,{i}", "line 2, column 'arm': 'both' is not one of"),
    "unknown stage": ("T01,F,se,,comparison,{c}", "line 2, column 'stage': 'comparison'"),
    "no tile": (",F,se,,compare,{c}", "line 2, column 'tile': empty"),
    "compare without mode": ("T01,F,,,compare,{c}", "line 2, column 'mode': empty, but a "
                                                    "compare record needs it"),
    "image without arm": ("T01,F,se,,image,{i}", "line 2, column 'arm': empty"),
    "compare with an arm": ("T01,F,se,model,compare,{c}", "line 2, column 'arm': 'model' given"),
    "missing file": ("T01,F,se,,compare,nowhere/compare.json", "line 2, column 'path': "),
    "extra cell": ("T01,F,se,,compare,{c},x", "line 2: more than 6 cells"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_are_one_line_errors(case, tmp_path):
    compare = write(tmp_path / "c" / "compare.json", compare_record())
    image = write(tmp_path / "i" / "image.json", image_record("F", "se"))
    row, message = BAD_ROWS[case]
    manifest = write_manifest(tmp_path, [row.format(c=compare, i=image)])
    with pytest.raises(CalmodelError) as err:
        read_manifest(manifest)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(manifest) in str(err.value)


def test_bad_header_duplicates_and_wrong_stage(tmp_path):
    compare = write(tmp_path / "c" / "compare.json", compare_record())
    bad = tmp_path / "bad.csv"
    bad.write_text("tile,field,mode,stage,path\nT01,F,se,compare,c/compare.json\n")
    with pytest.raises(CalmodelError, match="line 1: header must be"):
        read_manifest(bad)
    twice = write_manifest(tmp_path, ["T01,F,se,,compare,c/compare.json",
                                      f"T02,F,se,,compare,{compare}"])
    with pytest.raises(CalmodelError, match="line 3, column 'path': .* already listed on line 2"):
        read_manifest(twice)
    wrong = write_manifest(tmp_path, ["T01,F,se,nomodel,image,c/compare.json"])
    with pytest.raises(CalmodelError, match="line 2, column 'stage': 'image', but .* 'compare' record"):
        report([], tmp_path / "out", manifest=wrong)
    empty = write_manifest(tmp_path, [])
    with pytest.raises(CalmodelError, match="no records listed"):
        read_manifest(empty)
