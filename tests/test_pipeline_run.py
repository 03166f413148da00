"""The whole workflow for real: `nextflow run . -profile test`, -resume, and a failing tile."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from conftest import REPO, run


def newest_trace(outdir):
    return sorted((outdir / "pipeline_info").glob("trace_*.txt"))[-1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("pipeline")
    run(["nextflow", "run", str(REPO), "-profile", "test", "--outdir", "results"], cwd=work, timeout=2400)
    return work


def test_demo_publishes_env_and_report(demo):
    results = demo / "results"
    env = json.loads((results / "pipeline_info" / "calmodel_env.json").read_text())
    assert env["missing"] == [] and env["versions"]["casatasks"].startswith("6.7.")
    report = json.loads((results / "report" / "report.json").read_text())
    assert set(report["tiles"]) == {"demo_vlass_like", "demo_coequal_double"}
    html = (results / "report" / "report.html").read_text()
    assert "demo_coequal_double" in html and "data:image/png;base64," in html
    for tile in report["tiles"]:
        assert (results / tile / "build_model" / "build_model.json").is_file()
        assert list((results / tile / "compare").glob("*/compare.json"))


def test_demo_verdicts_by_scope(demo):
    """coequal-double is outside the memo's scope (no dominant core) and the model changes
    its science (a co-equal double calibrated as a point source cannot be right); vlass-like
    is inside it and gets a judged verdict. The headline never pools the two scopes, and
    both arms' image noise reaches the report for every field and mode."""
    report = json.loads((demo / "results" / "report" / "report.json").read_text())
    vlass, double = report["tiles"]["demo_vlass_like"], report["tiles"]["demo_coequal_double"]
    assert vlass["scope"]["scope"] == "in-scope" and double["scope"]["scope"] == "out-of-scope"
    assert double["verdict"] == "significant-change", double
    assert vlass["verdict"] in {"no-detectable-change", "detected-within-tolerance", "significant-change"}, vlass
    assert report["overall"]["out-of-scope"]["verdict"] == "significant-change"
    assert report["overall"]["in-scope"]["verdict"] == vlass["verdict"]
    page = (demo / "results" / "report" / "report.html").read_text()
    assert "In scope" in page and "Out of scope" in page
    images = {(tile, i["field"], i["mode"], i["arm"]) for tile, t in report["tiles"].items()
              for i in t["images"] if i.get("rms_jy")}
    assert len(images) == 8, images  # 2 tiles x 1 field x 2 modes x 2 arms


def test_report_reads_a_manifest_of_both_arms(demo):
    manifests = list((demo / "work").glob("*/*/manifest.csv"))
    assert len(manifests) == 1
    with manifests[0].open() as handle:
        rows = list(csv.DictReader(handle))
    assert all((manifests[0].parent / row["path"]).is_file() for row in rows)
    arms = {(r["tile"], r["stage"], r["arm"]) for r in rows if r["stage"] in ("image", "catalog")}
    assert len(arms) == 8  # 2 tiles x image, catalog x model, nomodel


def test_resume_reuses_every_task(demo):
    run(["nextflow", "run", str(REPO), "-profile", "test", "--outdir", "results", "-resume"], cwd=demo, timeout=600)
    with newest_trace(demo / "results").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert rows, "empty trace"
    assert {row["status"] for row in rows} == {"CACHED"}, [(r["name"], r["status"]) for r in rows]


def _digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_bad_tile_fails_clearly_and_leaves_other_tiles_intact(demo):
    results = demo / "results"
    before = _digest(results / "demo_vlass_like")
    sheet = demo / "with_bad_tile.csv"
    sheet.write_text("tile,preset,seed,config,ms\n"
                     f"demo_vlass_like,vlass-like,1,{REPO}/assets/demo/vlass-like.yaml,\n"
                     "broken,,,,/nonexistent/broken.ms\n")
    proc = run(["nextflow", "run", str(REPO), "--input", str(sheet), "--outdir", "results", "-resume"],
               cwd=demo, timeout=900, check=False)
    assert proc.returncode != 0
    assert "input not found" in proc.stdout and "/nonexistent/broken.ms" in proc.stdout
    assert _digest(results / "demo_vlass_like") == before
