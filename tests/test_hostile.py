"""Hostile and broken inputs on the CLI side (issue 13; docs/reliability.md lists the cases).

One small simulated tile for the whole module; most cases are refused before CASA runs.
The workflow-side cases (injection, traversal, samplesheet checks) are in
tests/test_pipeline_contract.py.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from calmodel.cli import main
from calmodel.core.options import FiniteFloat, SettingOption
from conftest import VENV_BIN, run

CALMODEL = str(VENV_BIN / "calmodel")
# Root ignores permission bits; without these capabilities it is held to them, as a user is.
AS_A_USER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def calmodel(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return run([*(prefix or []), CALMODEL, *map(str, args)], check=False)


def one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def tree_listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def tile(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "sim"
    run([CALMODEL, "simulate", "--preset", "point", "--out", str(out)])
    return out


# ---------------------------------------------------------------- #3 --out inside an input

@pytest.mark.parametrize("stage,args,inside", [
    ("calibrate", ["--model", "none"], "tile.ms/cal"),
    ("calibrate", ["--model", "none"], "tile.ms"),
    ("characterize", [], "tile.ms/results"),
    ("build-model", ["--field", "J1407+2827"], "tile.ms/ANTENNA/m"),
    ("image", ["--field", "T01", "--mode", "ql"], "tile.ms/img"),
])
def test_out_inside_the_input_ms_is_refused(tile, stage, args, inside):
    before = tree_listing(tile / "tile.ms")
    proc = calmodel(stage, "--ms", tile / "tile.ms", *args, "--out", tile / inside)
    one_line_error(proc, 2, "inside the input", "tile.ms")
    assert tree_listing(tile / "tile.ms") == before


def test_out_inside_the_model_or_through_a_link_is_refused(tile, tmp_path):
    model = tmp_path / "model.cl"
    shutil.copytree(tile / "truth" / "calibrator.cl", model)
    proc = calmodel("calibrate", "--ms", tile / "tile.ms", "--model", model, "--out", model / "cal")
    one_line_error(proc, 2, "inside the input", "model.cl")
    link = tmp_path / "link"
    link.symlink_to(tile / "tile.ms")  # the same folder under another name
    proc = calmodel("characterize", "--ms", tile / "tile.ms", "--out", link / "results")
    one_line_error(proc, 2, "inside the input")
    assert not (tile / "tile.ms" / "results").exists()


def test_catalog_and_compare_out_equal_to_an_input_file(tmp_path):
    image = tmp_path / "x.fits"
    image.write_bytes(b"not really")
    proc = calmodel("catalog", "--image", image, "--out", image)
    assert proc.returncode in (2, 64), proc.stderr  # click refuses a file as --out first (64)
    assert image.read_bytes() == b"not really"


# ---------------------------------------------------------------- #5 failed rerun, #17 scratch

def test_failed_calibrate_rerun_leaves_no_current_looking_result(tile, tmp_path):
    out = tmp_path / "cal"
    (out / "calibrated.ms").mkdir(parents=True)  # the previous run's products
    (out / "caltables").mkdir()
    (out / "calibrate.json").write_text('{"stage": "calibrate"}\n')
    proc = calmodel("calibrate", "--ms", tile / "tile.ms", "--model", "none", "--gain-field", "NOPE",
                    "--out", out)
    one_line_error(proc, 2, "NOPE")
    assert not (out / "calibrate.json").exists()
    assert not (out / "calibrated.ms").exists() and not (out / "caltables").exists()
    assert not (out / "scratch").exists(), "a failed calibrate leaves its scratch MS"
    assert "calibrate failed" in (out / "FAILED").read_text() and "NOPE" in (out / "FAILED").read_text()


def test_failed_catalog_and_report_reruns_leave_no_old_products(tmp_path):
    out = tmp_path / "cat"
    out.mkdir()
    for name in ("catalog.json", "catalog.fits", "catalog.csv"):
        (out / name).write_text("old\n")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not FITS\n")
    proc = calmodel("catalog", "--image", bad, "--out", out)
    assert proc.returncode == 2, proc.stderr
    assert "casa.log" not in proc.stderr  # catalog writes none
    assert sorted(p.name for p in out.iterdir()) == ["FAILED"]

    report = tmp_path / "rep"
    report.mkdir()
    for name in ("report.json", "report.html", "tables.md"):
        (report / name).write_text("old\n")
    proc = calmodel("report", "--out", report, "--manifest", tmp_path / "missing.csv")
    assert proc.returncode in (2, 64), proc.stderr
    assert "casa.log" not in proc.stderr
    if proc.returncode == 2:  # the stage ran and failed
        assert sorted(p.name for p in report.iterdir()) == ["FAILED"]


def test_a_successful_run_removes_failed(tmp_path):
    from calmodel.core.outputs import stage_output

    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        with stage_output(out, "x.json", products=("p",)):
            out.mkdir()
            (out / "p").write_text("half")
            raise RuntimeError("No space left on device")
    assert (out / "FAILED").read_text() == "x failed: No space left on device\n"
    assert not (out / "p").exists()
    with stage_output(out, "x.json"):
        (out / "x.json").write_text("{}")
    assert not (out / "FAILED").exists()


# ---------------------------------------------------------------- #4 read-only inputs

def test_private_copies_are_writable(tile, tmp_path):
    from calmodel.core.io import copy_tree

    src = tmp_path / "ro.ms"
    shutil.copytree(tile / "tile.ms", src)
    subprocess.run(["chmod", "-R", "a-w", str(src)], check=True)
    copy = copy_tree(src, tmp_path / "copy.ms")
    for path in [copy, *copy.rglob("*")]:
        assert path.stat().st_mode & stat.S_IWUSR, path
    shutil.rmtree(copy)  # a copy that kept the bits could not be removed by a user


@pytest.mark.slow
def test_read_only_ms_and_model_just_work(tile, tmp_path):
    """calibrate a read-only MS with a read-only component list, held to permission bits."""
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copytree(tile / "tile.ms", ro / "ro.ms")
    shutil.copytree(tile / "truth" / "calibrator.cl", ro / "cal.cl")
    subprocess.run(["chmod", "-R", "a-w", str(ro / "ro.ms"), str(ro / "cal.cl")], check=True)
    probe = subprocess.run([*AS_A_USER, "touch", str(ro / "ro.ms" / "probe")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("setpriv cannot drop the permission override here")
    out = tmp_path / "cal"
    proc = calmodel("calibrate", "--ms", ro / "ro.ms", "--model", ro / "cal.cl", "--no-statwt",
                    "--out", out, prefix=AS_A_USER)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "calibrate.json").read_text())["arm"] == "model"
    shutil.rmtree(out)  # the products are the user's to remove


def test_a_field_name_that_would_break_the_cal_library_is_refused(tmp_path):
    """Field names come from the user's MS and go into calibrate's cal library as quoted
    strings: a quote or line break there would end the value and add instructions."""
    from calmodel import CalmodelError
    from calmodel.core.callib import Apply, write_cal_library

    for name in ("J1407+2827' fldmap='0", "T01\ncaltable='x'"):
        with pytest.raises(CalmodelError, match="cannot go into a CASA cal library"):
            write_cal_library(tmp_path / "apply.callib", [Apply("caltables/final_amp.G", name)], n_spw=2)
        assert not (tmp_path / "apply.callib").exists()
    with pytest.raises(CalmodelError, match="names no fields"):
        write_cal_library(tmp_path / "apply.callib", [Apply("t.G", "")], n_spw=2)
    library = write_cal_library(tmp_path / "apply.callib", [Apply("t.G", "T01", fldmap="J1407+2827")], n_spw=2)
    assert library.read_text() == "caltable='t.G' calwt=False field='T01' tinterp='linear' fldmap='J1407+2827' spwmap=[0,1]\n"


# ---------------------------------------------------------------- #6 all-zero data, simulate

def test_simulated_tile_has_no_empty_corrected_data(tile):
    from calmodel.core.casa import casa_tools

    tb = casa_tools().tools.table()
    tb.open(str(tile / "tile.ms"))
    try:
        assert "CORRECTED_DATA" not in tb.colnames()
    finally:
        tb.close()


def test_image_of_an_all_zero_column_is_an_error(tile, tmp_path):
    from calmodel.core.casa import casa_tools

    ms = tmp_path / "zero.ms"
    shutil.copytree(tile / "tile.ms", ms)
    tb = casa_tools().tools.table()
    tb.open(str(ms), nomodify=False)
    try:  # what an empty column looks like (simulate's old CORRECTED_DATA was all zero)
        tb.putcol("DATA", 0 * tb.getcol("DATA"))
    finally:
        tb.close()
    proc = calmodel("image", "--ms", ms, "--field", "T01", "--mode", "ql", "--out", tmp_path / "img")
    one_line_error(proc, 2, "column DATA", "'T01'", "all zero, NaN or flagged")
    assert not (tmp_path / "img" / "image.json").exists()


# ---------------------------------------------------------------- #7 numeric options

def _float_options():
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, SettingOption) and type(param.type) is FiniteFloat:
                yield name, param.opts[0]


@pytest.mark.parametrize("command,flag", sorted(set(_float_options())))
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_every_float_option_rejects_non_finite(command, flag, value):
    param = next(p for p in main.commands[command].params if flag in p.opts)
    values = [value] * (param.nargs if param.nargs > 1 else 1)
    result = CliRunner().invoke(main, [command, flag, *values])
    assert result.exit_code == 64, (command, flag, result.output)
    assert "finite" in result.output


@pytest.mark.parametrize("args,words", [
    (["report", "--flux-threshold", "-0.1"], ">= 0"),
    (["report", "--nsigma", "0"], "> 0"),
    (["report", "--min-components", "1"], ">= 3"),
    (["characterize", "--threshold", "0"], "> 0"),
    (["characterize", "--min-fraction", "1.5"], "<= 1"),
    (["image", "--robust", "3"], "<= 2"),
    (["image", "--cell", "-1"], "> 0"),
    (["catalog", "--ncores", "0"], ">= 1"),
    (["simulate", "--seed", "-5"], ">= 0"),
    (["simulate", "--seed", "abc"], "not an integer"),
    (["compare", "--match-radius", "0"], "> 0"),
])
def test_out_of_range_options_are_usage_errors(args, words):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 64, result.output
    assert words in result.output


# ---------------------------------------------------------------- #15 --help, #17 exit codes

@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_exits_zero_without_a_failed_line(command):
    proc = calmodel(command, "--help")
    assert proc.returncode == 0 and "failed" not in proc.stderr, proc.stderr


def test_internal_errors_name_casa_log_only_for_stages_that_write_one(monkeypatch, tmp_path):
    import calmodel.compare.stage

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(calmodel.compare.stage, "compare", boom)
    cat = tmp_path / "c.csv"
    cat.write_text("x\n")
    result = CliRunner().invoke(
        main, ["compare", "--model", str(cat), "--nomodel", str(cat), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "boom" in result.stderr and "casa.log" not in result.stderr
    assert (tmp_path / "o").is_dir() is False or "boom" in (tmp_path / "o" / "FAILED").read_text()


def test_a_broken_uvfits_is_bad_input(tmp_path):
    bad = tmp_path / "broken.uvfits"
    header = "".join(card.ljust(80) for card in (
        "SIMPLE  = T", "BITPIX  = -32", "NAXIS   = 0", "GROUPS  = T", "END"))
    bad.write_bytes(header.ljust(2880).encode() + b"\0" * 100)
    proc = calmodel("characterize", "--ms", bad, "--out", tmp_path / "o")
    assert proc.returncode == 2, proc.stderr
    assert "broken.uvfits" in proc.stderr


def test_an_unreadable_ms_table_is_bad_input(tile, tmp_path):
    ms = tmp_path / "corrupt.ms"
    shutil.copytree(tile / "tile.ms", ms)
    os.truncate(ms / "table.f0", 50)
    proc = calmodel("calibrate", "--ms", ms, "--model", "none", "--out", tmp_path / "cal")
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "cal" / "scratch").exists()


def test_click_types_are_the_finite_one():
    """No float option escapes FiniteFloat (a plain click.FLOAT accepts 'nan')."""
    for name, command in main.commands.items():
        for param in command.params:
            assert not isinstance(param.type, click.types.FloatParamType), (name, param.opts)


# ---------------------------------------------------------------- #10/#11 disk full

def test_casa_console_disk_full_reaches_the_error(tmp_path):
    from calmodel.core.casa import stage_console

    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(OSError) as caught:
        with stage_console(out):
            os.write(2, b"SEVERE: TableProxy: No space left on device\n")  # as CASA's C++ writes it
            raise RuntimeError("split failed")
    assert "No space left on device" in str(caught.value) and "split failed" in str(caught.value)
    assert "No space left" in (out / "casa_console.log").read_text()


# ---------------------------------------------------------------- #12 corrupt component list

def test_a_corrupt_component_list_is_bad_input(tile, tmp_path):
    model = tmp_path / "model.cl"
    shutil.copytree(tile / "truth" / "calibrator.cl", model)
    os.truncate(model / "table.f0", 50)
    out = tmp_path / "cal"
    proc = calmodel("calibrate", "--ms", tile / "tile.ms", "--model", model, "--no-statwt", "--out", out)
    one_line_error(proc, 2, f"cannot read component list {model}:", "truncated or corrupt")
    assert not (out / "scratch").exists() and not (out / "calibrate.json").exists()


# ---------------------------------------------------------------- #13 NaN calibrator data

def test_a_calibrator_without_usable_data_is_named(tile, tmp_path):
    from calmodel.core.casa import casa_tools
    from calmodel.core.ms import field_names

    ms = tmp_path / "nan.ms"
    shutil.copytree(tile / "tile.ms", ms)
    gain = field_names(ms).index("J1407+2827")
    tb = casa_tools().tools.table()
    tb.open(str(ms), nomodify=False)
    try:
        sel = tb.query(f"FIELD_ID == {gain}")
        sel.putcol("DATA", sel.getcol("DATA") * float("nan"))
        sel.close()
    finally:
        tb.close()
    out = tmp_path / "cal"
    proc = calmodel("calibrate", "--ms", ms, "--model", "none", "--no-statwt", "--out", out)
    one_line_error(proc, 2, "'J1407+2827'", "no usable visibilities")
    assert not (out / "scratch").exists()


# ---------------------------------------------------------------- #11/#12 CASA killing the process

def _mounted_tmpfs(path: Path, size: str) -> Path:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    return path


@pytest.fixture
def small_disk(tmp_path):
    # calibrate's scratch is the calibrators' rows (~half the point tile's 15 MB) and their
    # model: 30 MB held it all once the whole-MS copy went (session 8); 8 MB does not.
    disk = _mounted_tmpfs(tmp_path / "small", "8m")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def test_calibrate_on_a_full_disk_ends_with_one_line_and_failed(tile, small_disk):
    """CASA's C++ aborts (SIGABRT) when the calibrators' MS does not fit: the parent process
    still writes FAILED, keeps the console and exits 1 (not 134, which would be retried)."""
    out = small_disk / "cal"
    proc = calmodel("calibrate", "--ms", tile / "tile.ms", "--model", "none", "--out", out)
    line = one_line_error(proc, 1, "calibrate failed", "No space left on device", "not retried")
    assert "SIGABRT" in line, line
    assert (out / "FAILED").read_text().startswith("calibrate failed: ")
    assert "No space left" in (out / "FAILED").read_text()
    assert "No space left" in (out / "casa_console.log").read_text()
    assert not (out / "scratch").exists() and not (out / "calibrate.json").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no half-written temporaries


def test_simulate_on_a_full_disk_ends_with_one_line_and_failed(tmp_path):
    disk = _mounted_tmpfs(tmp_path / "tiny", "8m")  # the point tile needs ~16 MB
    try:
        out = disk / "sim"
        proc = calmodel("simulate", "--preset", "point", "--out", out)
        one_line_error(proc, 1, "simulate failed", "SIGABRT", "No space left on device", "not retried")
        failed = (out / "FAILED").read_text()
        assert failed.startswith("simulate failed: CASA crashed (SIGABRT)") and "No space left" in failed
        # The half-written tile (core.io's hidden temporary) is gone: the space FAILED needed.
        assert sorted(p.name for p in out.iterdir()) == ["FAILED", "casa.log", "casa_console.log"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _signal_the_stage(tile: Path, out: Path, sig, to_parent: bool = False) -> subprocess.CompletedProcess:
    """Start calibrate, wait for its CASA child to be busy, send it ``sig`` (as a crash or
    the kernel's OOM killer would; ``to_parent``: to the calmodel process, as a scheduler
    would), return the finished parent."""
    import time

    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    parent = subprocess.Popen([CALMODEL, "calibrate", "--ms", str(tile / "tile.ms"), "--model", "none",
                               "--no-statwt", "--out", str(out)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "casa.log").exists():  # the child has set CASA up: it is in the stage
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()
        time.sleep(0.2)
    (child,) = _children(parent.pid)
    os.kill(parent.pid if to_parent else child, sig)
    stdout, stderr = parent.communicate(timeout=120)
    assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
    return subprocess.CompletedProcess(parent.args, parent.returncode, stdout, stderr)


def test_a_crashed_casa_child_is_an_internal_error_never_a_retry(tile, tmp_path):
    import signal

    out = tmp_path / "cal"
    proc = _signal_the_stage(tile, out, signal.SIGSEGV)
    one_line_error(proc, 1, "calibrate failed", "SIGSEGV", "not retried")
    assert (out / "FAILED").read_text().startswith("calibrate failed: CASA crashed (SIGSEGV)")
    assert (out / "casa_console.log").exists()
    assert not (out / "scratch").exists() and not (out / "calibrate.json").exists()


def test_an_out_of_memory_kill_keeps_its_exit_status(tile, tmp_path):
    """SIGKILL (the OOM killer, a scheduler) is 137, which the workflow retries with more memory."""
    import signal

    proc = _signal_the_stage(tile, tmp_path / "cal", signal.SIGKILL)
    assert proc.returncode == 137, (proc.returncode, proc.stderr)
    assert "failed" not in proc.stderr


# ---------------------------------------------------------------- records read by compare and report

@pytest.mark.parametrize("text,words", [
    ("[1, 2]", "expected a JSON object"),
    ("{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not a text file"),
])
def test_a_broken_catalog_record_beside_a_catalogue_is_one_line(tmp_path, text, words):
    """compare reads the catalog.json beside each catalogue with core.io.read_json_object,
    the reader the report uses: one line naming the file, exit 2."""
    cats = []
    for arm in ("model", "nomodel"):
        (tmp_path / arm).mkdir()
        cat = tmp_path / arm / "catalog.csv"
        cat.write_text("RA,DEC,Total_flux,Peak_flux\n150.0,20.0,0.001,0.001\n")
        cats.append(cat)
    truth = tmp_path / "sky.csv"  # the records are read for the comparison with the truth
    truth.write_text("ra_deg,dec_deg,flux_jy\n150.0,20.0,0.001\n")
    record = tmp_path / "model" / "catalog.json"
    record.write_bytes(text if isinstance(text, bytes) else text.encode())
    proc = calmodel("compare", "--model", cats[0], "--nomodel", cats[1], "--truth", truth,
                    "--out", tmp_path / "cmp")
    one_line_error(proc, 2, str(record), words)


# ---------------------------------------------------------------- #18 two writers of one --out

@pytest.mark.parametrize("stage,args", [
    ("characterize", ["--ms", "{tile}/tile.ms"]),   # a CASA stage (in its child process)
    ("simulate", ["--preset", "point"]),           # no stage_output: its command takes the lock
    ("catalog", ["--image", "{tile}/missing.fits"]),  # a stage without CASA
])
def test_a_second_writer_of_the_same_out_stops_at_once(tile, tmp_path, stage, args):
    """While another process holds --out (an orphaned task of a killed run), a stage exits 75
    (the workflow retries it in a new work folder) and touches nothing, not even the old record."""
    from calmodel.core.outputs import exclusive

    out = tmp_path / "out"
    out.mkdir()
    (out / f"{stage}.json").write_text("{}\n")  # the other writer's
    before = tree_listing(out)
    with exclusive(out):
        proc = calmodel(stage, *(a.format(tile=tile) for a in args), "--out", out)
    one_line_error(proc, 75, f"--out {out} is being written by another calmodel process (pid {os.getpid()})")
    assert tree_listing(out) == before and (out / f"{stage}.json").read_text() == "{}\n"
    # Once the other writer has gone, the same command runs (here: to its own bad-input error).
    if stage == "catalog":
        one_line_error(calmodel(stage, *(a.format(tile=tile) for a in args), "--out", out), 2, "missing.fits")


def test_a_scheduler_sigterm_reaches_the_casa_child(tile, tmp_path):
    """Slurm's time limit or Nextflow's kill sends SIGTERM to calmodel: the CASA child gets it
    too (no orphan keeps writing), and the exit status stays 143, which the workflow retries."""
    import signal

    proc = _signal_the_stage(tile, tmp_path / "cal", signal.SIGTERM, to_parent=True)
    assert proc.returncode == 143, (proc.returncode, proc.stderr)
