"""The performance suite in its reduced CI form: the tiny tile, one repetition, no fan-out."""

from __future__ import annotations

import json
import math

from conftest import REPO, VENV_BIN, run

STAGES = {"simulate", "characterize", "build-model", "calibrate", "image", "catalog", "compare"}


def test_benchmark_suite_writes_sane_numbers(tmp_path):
    # model arm only, to stay near 3 minutes on 2 idle cores (docs/performance.md, "Open")
    run([str(VENV_BIN / "python"), str(REPO / "benchmarks/run.py"), "--tile", "tiny", "--arms", "model",
         "--out", str(tmp_path)], timeout=900)
    result = json.loads((tmp_path / "benchmark.json").read_text())
    rows = result["stages"]
    assert {row["stage"] for row in rows} == STAGES
    for row in rows:
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_rss_mb"] > 50, row
    compared = [row for row in rows if "ratio_wall" in row]
    assert {(r["stage"], r.get("arm"), r.get("mode")) for r in compared} == {
        ("build-model", None, None), ("calibrate", "nomodel", None), ("calibrate", "model", None),
        ("image", "model", "ql"), ("image", "model", "se")}
    for row in compared:
        assert math.isfinite(row["ratio_wall"]) and row["ratio_wall"] > 0, row
        assert math.isfinite(row["ratio_cpu"]) and row["ratio_cpu"] > 0, row
        assert row["bare_task_calls"] > 0 and row["visibilities"] > 0 and row["data_passes"] > 0, row
    calibrate = next(r for r in rows if r["stage"] == "calibrate")
    # the calibrators split out, then the targets written calibrated (no applycal pass)
    assert calibrate["tasks"]["gaincal"] >= 3 and calibrate["tasks"]["mstransform"] == 2, calibrate["tasks"]
    table = (tmp_path / "benchmark.md").read_text()
    assert table.count("\n| calibrate |") == 2 and "ratio_wall" in table


def test_before_after_refuses_a_stage_it_cannot_time(tmp_path):
    proc = run([str(VENV_BIN / "python"), str(REPO / "benchmarks/run.py"), "--tile", "tiny", "--before-after",
                "HEAD:image", "--out", str(tmp_path)], check=False, timeout=120)
    assert proc.returncode != 0
    assert "--before-after supports build-model, calibrate, not image" in proc.stdout + proc.stderr


def test_projection_separates_fixed_and_linear_cost(monkeypatch):
    """Two tiles whose CPU is exactly 5 s + 2 s per million visibilities: the fit recovers
    both, and the VLASS block (2.30e10 visibilities) costs (5 + 2 x 23 000) s."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from project import projection, vlass_visibilities

    def tile(vis: int) -> dict:
        return {"stages": [{"stage": "simulate", "visibilities": vis, "cpu_s": 1.0},
                           {"stage": "calibrate", "arm": "model", "visibilities": vis, "cpu_s": 5.0 + 2e-6 * vis}]}

    table = projection(tile(4_000_000), tile(1_000_000))
    row = next(line for line in table.splitlines() if line.startswith("| calibrate"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert float(cells[5]) == 2.0 and float(cells[6]) == 5.0
    assert float(cells[7]) == float(f"{(5.0 + 2e-6 * vlass_visibilities()) / 3600:.3g}")
    assert "proportional" not in table


def test_minimal_loop_takes_the_last_pass_after_a_mask_expansion(monkeypatch):
    """build-model's log with a rerun (one dirty image, then clearcal and the loop again with
    the expanded mask): the memo's minimal loop is the set-up, the dirty image and, from the
    second pass only, one fresh tclean, the gaincal and the applycal per solint."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from replay import minimal_loop

    def one_pass(tag: str, mask: str) -> list:
        calls = []
        for solint in ("inf", "int"):
            calls += [("tclean", {"imagename": f"{tag}_{solint}_pre", "mask": mask, "calcpsf": False}),
                      ("gaincal", {"caltable": f"{tag}_{solint}"}), ("applycal", {"gaintable": [f"{tag}_{solint}"]}),
                      ("tclean", {"imagename": f"{tag}_{solint}_post", "mask": mask})]
        return calls

    setup = [("split", {"outputvis": "calibrator.ms"}), ("clearcal", {})]
    dirty = ("tclean", {"imagename": "dirty", "niter": 0, "mask": ""})
    log = setup + [dirty] + one_pass("first", "mask.im") + [("clearcal", {})] + one_pass("rerun", "mask.im")
    kept = minimal_loop(log)
    assert kept[:3] == setup + [dirty]
    assert [kw.get("caltable") for name, kw in kept if name == "gaincal"] == ["rerun_inf", "rerun_int"]
    images = [kw for name, kw in kept if name == "tclean"][1:]
    assert [kw["imagename"] for kw in images] == ["rerun_inf_pre", "rerun_int_pre"]
    assert all(kw["calcpsf"] and kw["mask"] == "mask.im" for kw in images)


def test_fanout_trace_summary_separates_span_from_task_time(monkeypatch, tmp_path):
    """Two tasks of 10 s overlapping by 5 s, a failed one ignored: the span is 15 s and the
    tasks' own time 20 s (what the fan-out's efficiency inside the span is made of)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from run import trace_summary

    info = tmp_path / "results" / "pipeline_info"
    info.mkdir(parents=True)
    rows = [("COMPLETED", "12:00:00.000", "12:00:10.000"), ("COMPLETED", "12:00:05.000", "12:00:15.000"),
            ("FAILED", "11:00:00.000", "13:00:00.000")]
    (info / "trace_x.txt").write_text("status\tstart\tcomplete\n" + "".join(
        f"{status}\t2026-11-27 {start}\t2026-11-27 {end}\n" for status, start, end in rows))
    summary = trace_summary(tmp_path / "results", tmp_path / "kept.txt")
    assert summary == {"tasks": 2, "task_span_s": 15.0, "task_time_s": 20.0}
    assert (tmp_path / "kept.txt").read_text().startswith("status")


def test_fanout_alternates_modes_and_reports_medians(monkeypatch, tmp_path):
    """Three repetitions run P S, S P, P S (a drift in the host's speed hits both modes); the
    efficiency is that of the medians, and every pair's is kept: serial 100 s, parallel
    50, 50 and 100 s on 2 cores give medians 100/50 -> 1.0, pairs 1.0, 1.0, 0.5."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import run

    calls = []
    parallel_walls = iter([50.0, 50.0, 100.0])

    def fake_run(mode, sheet, work, rep):
        calls.append(mode)
        wall = next(parallel_walls) if mode == "parallel" else 100.0
        return {"wall_s": wall, "cpu_s": wall, "probe_s": 1.0, "tasks": 62, "task_span_s": wall,
                "task_time_s": wall}

    monkeypatch.setattr(run, "fanout_run", fake_run)
    monkeypatch.setattr(run.os, "sched_getaffinity", lambda pid: {0, 1})
    result = run.fanout(4, "tiny", tmp_path, repeat=3)
    assert calls == ["parallel", "serial", "serial", "parallel", "parallel", "serial"]
    assert result["efficiency"] == 1.0
    assert result["efficiency_pairs"] == [1.0, 1.0, 0.5]
    assert "pair by pair: 1.000, 1.000, 0.500" in run.markdown(
        {"tile": "none", "repeat": 1, "threads": 1, "cores": 2, "load_before": (0, 0, 0),
         "load_after": (0, 0, 0), "stages": [], "fanout": result})
