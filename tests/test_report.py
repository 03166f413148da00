"""The report stage: verdicts from hand-written stage records, the tables, report.json, a
self-contained HTML page (checked in a headless browser when chromium is installed), and
one end-to-end case on compare.json records made by `calmodel catalog` + `calmodel compare`.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from conftest import CHROMIUM, IN_CI, VENV_BIN, run
from synthetic_images import make_sky, write_alpha_images, write_image, write_truth_csv

from calmodel import CalmodelError
from report_records import (COEQUAL_CALIBRATOR, compare_record, fit, image_record,
                            tile_side_records, tree, truth_arm, write)
from calmodel.report import Criterion, combine_fits, discover, load_record, report

CALMODEL = str(VENV_BIN / "calmodel")


def make_report(tmp_path, tiles, **criterion) -> dict:
    root = tree(tmp_path / "results", tiles)
    result = report([root], tmp_path / "report", Criterion(**criterion))
    return json.loads(result.record.read_text())


# ---------------------------------------------------------------- verdicts


def test_fields_of_a_tile_combine(tmp_path):
    rec = make_report(tmp_path, {"T01": {
        "F1_ql": compare_record(total=(0.004, 0.002, 0.01), n=100),
        "F2_ql": compare_record(total=(0.010, 0.002, 0.02), n=300)}})
    ql = rec["tiles"]["T01"]["modes"]["ql"]
    frac = ql["total_flux"]["fractional"]
    assert frac["mean"] == pytest.approx(0.007)
    # chi2/dof = 4.5: the error is scaled up by its root
    assert frac["chi2_dof"] == pytest.approx(4.5)
    assert frac["mean_err"] == pytest.approx(0.002 / math.sqrt(2) * math.sqrt(4.5))
    assert ql["counts"] == {"model": 410, "nomodel": 406, "matched": 400}
    assert sorted(ql["fields"]) == ["F1", "F2"]
    assert ql["parts"] == 2


def test_combine_fits():
    a, b = fit(0.02, 0.001, 0.01, 101), fit(-0.02, 0.001, 0.01, 101)
    both = combine_fits([a, b])
    assert both["mean"] == pytest.approx(0.0)
    assert both["mean_err"] == pytest.approx(0.02)  # 0.001/sqrt(2) x sqrt(800)
    assert both["sigma"] == pytest.approx(math.hypot(0.01, 0.02))  # pooled about the mean
    assert both["n"] == 202 and both["n_core"] == 194
    assert combine_fits([a])["mean"] == 0.02
    assert combine_fits([{"mean": None, "mean_err": None, "n": 2}])["mean"] is None
    exact = combine_fits([fit(0.0, 0.0, 0.0), fit(0.1, 0.01, 0.1)])
    assert exact["mean"] == 0.0 and exact["mean_err"] == 0.0


# ---------------------------------------------------------------- identification


def test_tile_field_mode_from_path_and_meta(tmp_path):
    root = tmp_path / "results"
    p = write(root / "T07" / "compare" / "J0618_m10_se" / "compare.json", compare_record())
    rec = load_record(p)
    assert (rec.tile, rec.field, rec.mode) == ("T07", "J0618_m10", "se")
    assert rec.identified_by == {"tile": "path", "field": "path", "mode": "path"}
    write(p.parent / "meta.json", {"tile": "T08t10", "field": "TARGET", "mode": "QL"})
    rec = load_record(p)
    assert (rec.tile, rec.field, rec.mode) == ("T08t10", "TARGET", "ql")
    assert set(rec.identified_by.values()) == {"meta.json"}
    # image.json declares field and mode; the arm comes from the folder
    img = write(root / "T07" / "image" / "nomodel" / "whatever" / "image.json",
                image_record("TARGET", "se"))
    rec = load_record(img)
    assert (rec.tile, rec.field, rec.mode, rec.arm) == ("T07", "TARGET", "se", "nomodel")
    assert rec.identified_by["field"] == "record" and rec.identified_by["arm"] == "path"
    # tile.json's own "tile" is used unless it is a stage folder name
    t = write(tmp_path / "sim" / "T09" / "tile.json", {"stage": "simulate", "tile": "T09"})
    assert load_record(t).tile == "T09"
    cal = write(root / "T07" / "calibrate" / "x" / "calibrate.json", {"stage": "calibrate",
                                                                      "arm": "nomodel"})
    assert (load_record(cal).tile, load_record(cal).arm) == ("T07", "nomodel")


def test_identification_errors(tmp_path):
    loose = write(tmp_path / "somewhere" / "compare.json", compare_record())
    with pytest.raises(CalmodelError, match="cannot tell its field and image mode"):
        load_record(loose)
    write(loose.parent / "meta.json", {"tile": "T1", "field": "F", "mode": "deep"})
    with pytest.raises(CalmodelError, match="mode 'deep' .*meta.json"):
        load_record(loose)
    # two compare records of one tile/field/mode would be counted twice
    write(tmp_path / "a" / "T1" / "compare" / "F_ql" / "compare.json", compare_record())
    write(tmp_path / "b" / "T1" / "compare" / "F_ql" / "compare.json", compare_record())
    with pytest.raises(CalmodelError, match="two compare.json records for tile T1, field F"):
        report([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    # the same file reached twice (folder and file) is one record
    paths = discover([tmp_path / "a", tmp_path / "a" / "T1" / "compare" / "F_ql" / "compare.json"])
    assert len(paths) == 1


def test_no_records_is_a_one_line_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.json").write_text("{}")
    for inputs, word in (([tmp_path / "empty"], "no stage records"),
                         ([tmp_path / "absent"], "input not found"),
                         ([tmp_path / "empty" / "sub" / "notes.json"], "not a stage record")):
        proc = run([CALMODEL, "report", "--out", str(tmp_path / "out"), *map(str, inputs)],
                   check=False)
        assert proc.returncode == 2, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("calmodel: error:")]
        assert len(errors) == 1 and word in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- products


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    truth = {"model": truth_arm(1.004, 0.003), "nomodel": truth_arm(1.001, 0.003)}
    root = tree(d / "results", {
        "T08t10": {"TARGET_ql": compare_record(total=(0.0068, 0.0001, 0.034), n=2500),
                   "TARGET_se": compare_record(total=(0.0029, 0.0001, 0.042), alpha=(-0.065, 0.002, 0.112),
                                               truth=truth, n=2500)},
        "T14t15": {"TARGET_ql": compare_record(total=(0.052, 0.001, 0.027)),
                   "TARGET_se": compare_record(total=(0.004, 0.0001, 0.04), alpha=(0.031, 0.001, 0.07))},
    }, calibrators={"T14t15": COEQUAL_CALIBRATOR})
    proc = run([CALMODEL, "report", "--out", str(d / "report"), str(root)])
    out = d / "report"
    return {"dir": d, "out": out, "stdout": proc.stdout,
            "record": json.loads((out / "report.json").read_text())}


def test_report_json_schema(handmade):
    rec = handmade["record"]
    for key in ("stage", "calmodel_version", "parameters", "elapsed_s", "criterion", "tiles",
                "overall", "records", "figures", "products", "warnings"):
        assert key in rec, key
    assert rec["stage"] == "report"
    crit = rec["criterion"]
    assert crit["nsigma"] == 3.0 and crit["flux_threshold"] == 0.03
    assert crit["alpha_threshold"] == 0.2 and "significant-change" in crit["text"]
    assert set(rec["tiles"]) == {"T08t10", "T14t15"}
    tile = rec["tiles"]["T08t10"]
    for key in ("verdict", "reasons", "scope", "modes", "characterize", "build_model",
                "fluxscale", "images", "simulation"):
        assert key in tile, key
    assert set(tile["modes"]) == {"ql", "se"}
    se = tile["modes"]["se"]
    for key in ("counts", "total_flux", "peak_flux", "alpha", "total_over_peak", "truth",
                "rms_jy", "rms_ratio", "checks", "fields"):
        assert key in se, key
    assert set(se["total_flux"]) >= {"difference", "fractional", "in_rms", "in_rms_fit"}
    # the SE alpha offset, -0.065 +- 0.002, is detected but within the 0.2 tolerance
    assert tile["verdict"] == "detected-within-tolerance"
    assert tile["scope"]["scope"] == "in-scope" and tile["scope"]["ratio"] == pytest.approx(12.5)
    assert tile["characterize"]["calibrators"][0]["decision"] == "model-needed"
    assert tile["build_model"]["chosen_solint"] == "inf"
    assert tile["fluxscale"]["model"]["fit_flux_jy"] == 1.001
    assert tile["fluxscale"]["model_over_nomodel"]["flux_ratio"] == pytest.approx(1.001 / 1.35)
    assert tile["simulation"]["preset"] == "vlass-like"
    # scopes are judged apart: the co-equal double's 5% never reaches the in-scope verdict
    assert rec["tiles"]["T14t15"]["scope"]["scope"] == "out-of-scope"
    assert set(rec["overall"]) == {"in-scope", "out-of-scope"}
    assert rec["overall"]["in-scope"]["verdict"] == "detected-within-tolerance"
    assert rec["overall"]["out-of-scope"]["verdict"] == "significant-change"
    assert rec["overall"]["in-scope"]["modes"]["ql"]["counts"]["matched"] == 2500
    assert rec["overall"]["in-scope"]["tiles"] == ["T08t10"]
    stages = sorted({r["stage"] for r in rec["records"]})
    assert stages == ["build_model", "calibrate", "characterize", "compare", "image", "simulate"]
    assert all(r["calmodel_version"] == "0.1.0" for r in rec["records"])
    assert "out-of-scope: significant-change" in handmade["stdout"] and "2 tiles" in handmade["stdout"]
    assert not list(handmade["out"].glob(".*"))  # no temporary files left


def test_tables_markdown(handmade):
    md = (handmade["out"] / "tables.md").read_text()
    assert md.startswith("# calmodel report")
    assert "**In scope (calibrator core > 10x the next component: the memo's case) verdict: " \
           "detected-within-tolerance**" in md
    assert "outside the memo's conclusion) verdict: significant-change**" in md
    assert "Criterion: Per tile and image mode" in md
    for heading in ("## Verdict",
                    "## QL (Quick Look) images: per tile and overall per scope (as memo Table 2)",
                    "## SE (Single Epoch) images: per tile and overall per scope (as memo Table 3)",
                    "## Against the simulated truth (per arm",
                    "## Gain calibrator fluxscale (calibrate.json)",
                    "## Gain calibrator structure (characterize.json)",
                    "## Calibrator model (build_model.json)",
                    "## Images, both arms measured alike (image.json)"):
        assert heading in md, heading
    ql = md.split("## QL (Quick Look) images: per tile and overall")[1].split("\n## ")[0]
    rows = [line for line in ql.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Tile | Fields | N matched")
    assert "Alpha offset" not in rows[0] and "Total/Peak centre (model, nomodel)" in rows[0]
    t08 = next(r for r in rows if r.startswith("| T08t10 |"))
    # fractional total flux offset: mean ± error (sigma ± error), in percent
    assert "+0.680 ± 0.010% (3.400 ± 0.048%)" in t08
    assert "2500 (2505 / 2503)" in t08
    assert "1.10 ± 0.03, 1.09 ± 0.03" in t08
    # the absolute offset in µJy, memo style: 0.0068 x 20 mJy = 136 µJy
    assert "+136.0 ± 2.0 (680.0" in t08
    overall = next(r for r in rows if r.startswith("| Overall, in-scope |"))
    assert "1 tile(s)" in overall and "2500" in overall
    assert any(r.startswith("| Overall, out-of-scope |") for r in rows)
    images = md.split("## Images, both arms measured alike")[1].split("\n## ")[0]
    arms = [line.split(" | ")[3] for line in images.splitlines() if line.startswith("| T") and not line.startswith("| Tile")]
    assert sorted(set(arms)) == ["model", "nomodel"] and len(arms) == 8
    se = md.split("## SE (Single Epoch) images: per tile and overall")[1].split("\n## ")[0]
    assert "Alpha offset" in se and "-0.0650 ± 0.0020 (0.1120" in se
    assert "| T08t10 | SE | TARGET | model | 150 / 160 | 1.004 ± 0.003 (0.029) [S/N ≥ 20] |" in md
    assert "model-needed" in md and "| T08t10 | model / nomodel |" in md
    assert "| T14t15 | out-of-scope (core/next 1.20x at 3.3\" ; truth" not in md  # no stray space
    assert "out-of-scope (core/next 1.20x at 3.3\"; truth (calibrator.json))" in md
    assert "~1 with alpha ~0 for a correct model" in md and "Flux scale 'bootstrap'" in md


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


def test_html_is_self_contained(handmade):
    page = (handmade["out"] / "report.html").read_text()
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    for tag, key, value in parser.attrs:
        if key in ("src", "href", "srcset", "data", "action", "poster"):
            assert not value.lower().startswith(("http", "//", "file:")), (tag, key, value[:80])
    images = [v for tag, k, v in parser.attrs if tag == "img" and k == "src"]
    # fluxes.png of 4 compare folders, 2 characterize plots
    assert len(images) == 6
    assert all(v.startswith("data:image/png;base64,") for v in images)
    assert "url(" not in page and "@import" not in page
    assert page.index("significant-change</div>") < page.index("<table")
    assert page.index("detected-within-tolerance</div>") < page.index("<table")
    assert "Criterion." in page and "Provenance" in page
    assert "J0618 (characterize)" in page
    tables = page.count("<table>")
    assert tables >= 10 and page.count("<thead><tr><th>Tile</th>") == tables - 1  # + provenance
    assert "<th>Total flux offset (fractional)</th>" in page
    assert "<th>Total/Peak centre (model, nomodel)</th>" in page
    assert page.count("<figcaption>") == 6


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=120, check=False)


def _check_in_browser(page: Path, tmp: Path, must_show: list[str]) -> Path:
    shot = tmp / "shot.png"
    proc = _chromium([f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()], tmp)
    assert shot.is_file(), proc.stderr[-2000:]
    assert shot.stat().st_size > 50_000, shot.stat().st_size
    dom = _chromium(["--dump-dom", page.as_uri()], tmp).stdout
    assert dom.count("<table") >= 4
    assert dom.count("<th>Total flux offset (fractional)</th>") >= 2
    assert "<th>N matched (of model / nomodel)</th>" in dom
    for text in must_show:
        assert text in dom, text
    return shot


def test_html_renders_in_headless_chromium(handmade, tmp_path, chromium):
    shot = _check_in_browser(handmade["out"] / "report.html", tmp_path,
                             ["Out of scope", "In scope", "T08t10", "T14t15",
                              "memo Table 2", "memo Table 3", "data:image/png;base64,"])
    shutil.copy(shot, handmade["dir"] / "shot.png")


# ---------------------------------------------------------------- end to end


NOISE = 1e-4


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Two tiles in the pipeline's layout from real catalog + compare runs: T01 (SE, with
    alpha and the truth) calibrated 5% high in the model arm, T02 (QL, no alpha) unchanged."""
    d = tmp_path_factory.mktemp("e2e")
    sky = make_sky(30, seed=4, noise_jy=NOISE, n_faint=4)
    alpha, alpha_error = write_alpha_images(d / "alpha.fits", d / "alpha.error.fits", sky,
                                            noise_jy=NOISE)
    truth = write_truth_csv(d / "sky.csv", sky)
    cats = {}
    for name, scale, seed in (("nomodel", 1.0, 11), ("model_same", 1.0, 12),
                              ("model_high", 1.05, 12)):
        image = write_image(d / f"{name}.image.tt0.fits", sky, noise_jy=NOISE, seed=seed,
                            scale=scale)
        run([CALMODEL, "catalog", "--image", str(image), "--alpha", str(alpha), "--alpha-error",
             str(alpha_error), "--out", str(d / "cat" / name)])
        cats[name] = d / "cat" / name / "catalog.csv"
    # QL catalogues carry no spectral index: blank Alpha in copies (catalog.json beside them).
    for name in ("nomodel", "model_same"):
        ql = d / "cat" / f"{name}_ql"
        ql.mkdir()
        table = Table.read(cats[name], format="ascii.csv")
        table["Alpha"] = np.nan
        table["E_Alpha"] = np.nan
        table.write(ql / "catalog.csv", format="ascii.csv")
        shutil.copy(cats[name].parent / "catalog.json", ql / "catalog.json")
    results = d / "results"
    run([CALMODEL, "compare", "--model", str(cats["model_high"]), "--nomodel", str(cats["nomodel"]),
         "--truth", str(truth), "--out", str(results / "T01" / "compare" / "TARGET_se")])
    run([CALMODEL, "compare", "--model", str(d / "cat" / "model_same_ql" / "catalog.csv"),
         "--nomodel", str(d / "cat" / "nomodel_ql" / "catalog.csv"),
         "--out", str(results / "T02" / "compare" / "TARGET_ql")])
    for tile, mode in (("T01", "se"), ("T02", "ql")):
        for arm in ("model", "nomodel"):
            write(results / tile / "image" / f"TARGET_{mode}_{arm}" / "image.json",
                  image_record("TARGET", mode, rms=NOISE))
    tile_side_records(results, "T01")
    shutil.copy(truth, results / "T01" / "simulate" / "truth" / "sky.csv")
    out = d / "report"
    proc = run([CALMODEL, "report", "--out", str(out), str(results / "T01"), str(results / "T02")])
    return {"dir": d, "out": out, "stdout": proc.stdout,
            "record": json.loads((out / "report.json").read_text())}


def test_end_to_end_verdicts(pipeline):
    rec = pipeline["record"]
    t1, t2 = rec["tiles"]["T01"], rec["tiles"]["T02"]
    se = t1["modes"]["se"]
    frac = se["total_flux"]["fractional"]
    assert frac["mean"] == pytest.approx(0.05, abs=3 * frac["mean_err"] + 0.005)
    assert t1["verdict"] == "significant-change"
    assert any("SE Total_flux offset (fractional)" in r for r in t1["reasons"])
    # against the truth, paired over the components matched in both arms and to the truth
    paired = se["truth_paired"]["total_flux"]
    assert paired["mean"] == pytest.approx(0.05, abs=0.01) and paired["n"] >= 20
    assert any("Total_flux vs truth, model - nomodel (paired)" in r for r in t1["reasons"])
    assert se["rms_jy"] == NOISE and se["rms_source"] == "image.json (nomodel)"
    assert se["rms_ratio"]["mean"] == pytest.approx(1.0)
    assert se["alpha"]["difference"]["mean"] == pytest.approx(0.0, abs=1e-6)  # same alpha image
    assert t2["verdict"] == "no-detectable-change", t2["reasons"]
    assert set(t2["modes"]) == {"ql"} and t2["modes"]["ql"]["alpha"] is None
    assert t2["modes"]["ql"]["counts"]["matched"] >= 30
    assert t1["scope"]["scope"] == "in-scope" and t2["scope"]["scope"] == "scope-unknown"
    assert rec["overall"]["in-scope"]["verdict"] == "significant-change"
    assert rec["overall"]["scope-unknown"]["verdict"] == "no-detectable-change"
    names = sorted(Path(f["path"]).name for f in rec["figures"])
    assert "alpha.png" in names and "truth.png" in names and "total_over_peak.png" in names
    assert "J0618_amp_uvdist.png" in names


def test_end_to_end_products(pipeline, tmp_path):
    out = pipeline["out"]
    md = (out / "tables.md").read_text()
    assert "| T01 |" in md and "| T02 |" in md
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(pipeline["record"]["figures"])
    assert "http" not in "".join(v for _, k, v in _attrs(page) if k in ("src", "href"))
    if CHROMIUM.exists() or IN_CI:
        shot = _check_in_browser(out / "report.html", tmp_path,
                                 ["In scope", "T01", "T02", "memo Table 3"])
        shutil.copy(shot, pipeline["dir"] / "shot.png")


def _attrs(page: str):
    parser = _Collector()
    parser.feed(page)
    return parser.attrs


def test_sparse_records_are_tolerated(tmp_path):
    # Records from older or unfinished stages: only the common keys, or a few numbers.
    root = tmp_path / "results"
    common = {"calmodel_version": "0.1.0", "parameters": {}, "elapsed_s": 1.0}
    rec = compare_record()
    for key in ("total_over_peak", "outliers", "truth", "counts"):
        rec.pop(key)
    write(root / "T1" / "compare" / "F_ql" / "compare.json", rec)
    write(root / "T1" / "image" / "F_ql_nomodel" / "image.json", {"stage": "image", **common})
    write(root / "T1" / "catalog" / "F_ql_model" / "catalog.json",
          {"stage": "catalog", **common, "image_rms_jy_per_beam": 2e-4})
    write(root / "T1" / "calibrate" / "model" / "calibrate.json", {"stage": "calibrate", **common})
    write(root / "T1" / "characterize" / "characterize.json", {"stage": "characterize", **common})
    write(root / "T1" / "build_model" / "build_model.json", {"stage": "build_model", **common})
    write(root / "T2" / "tile.json", {"stage": "simulate", **common})
    out = report([root], tmp_path / "report")
    rec = json.loads(out.record.read_text())
    ql = rec["tiles"]["T1"]["modes"]["ql"]
    assert ql["rms_jy"] == 2e-4 and ql["rms_source"] == "catalog.json (model)"
    assert rec["tiles"]["T1"]["verdict"] == "no-detectable-change"
    assert rec["tiles"]["T2"]["verdict"] == "insufficient-data"  # a tile with no compare.json
    assert "| T1 |" in out.markdown.read_text()


def test_nextflow_staged_inputs(tmp_path):
    # As modules/report.nf stages them: task folders symlinked under inputs/inNN/, each with
    # a meta.json, folder names that do not follow <tile>/<stage>/<field>_<mode>.
    work = tmp_path / "work"
    folders = {}
    for tile in ("T01", "T02"):
        c = work / f"c{tile}" / f"compare_{tile}_J0618_m10_se"
        write(c / "compare.json", compare_record(total=(0.03, 0.002, 0.02) if tile == "T01"
                                                 else (0.0, 0.002, 0.02)))
        write(c / "image.json", image_record("J0618_m10", "se", rms=2e-4))  # the nomodel image
        write(c / "meta.json", {"tile": tile, "field": "J0618_m10", "mode": "se"})
        folders[f"{tile}c"] = c
        for arm in ("model", "nomodel"):
            k = work / f"k{tile}{arm}" / f"calibrate_{arm}"
            write(k / "calibrate.json", {"stage": "calibrate", "arm": arm, "fluxscale": {
                "field": "J0618", "fit_flux_jy": 1.0, "fit_flux_error_jy": 0.01}})
            write(k / "meta.json", {"tile": tile, "arm": arm})
            folders[f"{tile}{arm}"] = k
        s = work / f"s{tile}" / "simulate"
        write(s / "tile.json", {"stage": "simulate", "tile": "simulate",
                                "parameters": {"preset": "point"}})
        write(s / "meta.json", {"tile": tile})
        folders[f"{tile}s"] = s
    inputs = tmp_path / "task" / "inputs"
    for i, folder in enumerate(folders.values()):
        (inputs / f"in{i:02d}").mkdir(parents=True)
        (inputs / f"in{i:02d}" / folder.name).symlink_to(folder, target_is_directory=True)
    (inputs / "in00" / "loop").symlink_to(inputs, target_is_directory=True)  # a cycle
    out = report([inputs], tmp_path / "task" / "report")
    rec = json.loads(out.record.read_text())
    assert sorted(rec["tiles"]) == ["T01", "T02"]
    assert [rec["tiles"][t]["verdict"] for t in ("T01", "T02")] == [
        "significant-change", "no-detectable-change"]
    se = rec["tiles"]["T01"]["modes"]["se"]
    assert list(se["fields"]) == ["J0618_m10"]
    assert se["rms_jy"] == 2e-4 and se["rms_source"] == "image.json (arm unknown)"
    assert set(rec["tiles"]["T02"]["fluxscale"]) == {"model", "nomodel", "model_over_nomodel"}
    assert rec["tiles"]["T02"]["simulation"]["preset"] == "point"
    assert len(rec["records"]) == 10  # compare, image, calibrate x2, tile per tile
    assert all(r["identified_by"]["tile"] == "meta.json" for r in rec["records"])
