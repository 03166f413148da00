"""The Nextflow layer: layout and syntax rules, CLI options used in modules exist, the schemas
describe every parameter and column, hostile samplesheets stop before any task starts, the
stub graph runs and writes the report manifest, and retries respect the resource caps."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from calmodel.cli import main as cli
from calmodel.simulate.config import PRESETS
from conftest import REPO, VENV_BIN, run

MODULES = sorted((REPO / "modules").rglob("*.nf"))
NF_FILES = ["main.nf", *sorted(str(p.relative_to(REPO)) for p in
                               [*REPO.glob("workflows/*.nf"), *REPO.glob("subworkflows/**/*.nf"), *MODULES])]
SCHEMA = json.loads((REPO / "nextflow_schema.json").read_text())
INPUT_SCHEMA = json.loads((REPO / "assets" / "schema_input.json").read_text())
PARAMS = {name: prop for group in SCHEMA["$defs"].values() for name, prop in group["properties"].items()}


def nextflow(args, cwd, check=False, env=None, timeout=300):
    return run(["nextflow", "run", str(REPO), *args], cwd=cwd, check=check, env=env, timeout=timeout)


def _trace_rows(outdir: Path) -> list[dict]:
    """The rows of the newest Nextflow trace under ``outdir``/pipeline_info."""
    trace = max((outdir / "pipeline_info").glob("trace_*.txt"), key=lambda p: p.stat().st_mtime)
    with trace.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _script_blocks(text: str) -> list[str]:
    return re.findall(r'script:.*?"""(.*?)"""', text, re.S)


# ---------------------------------------------------------------- layout and syntax


def test_every_module_option_exists_in_the_click_command():
    seen = 0
    for module in MODULES:
        for block in _script_blocks(module.read_text()):
            for command, rest in re.findall(r"^\s*(?:if\s+)?calmodel\s+([a-z-]+)(.*)$", block, re.M):
                assert command in cli.commands, f"{module}: unknown command 'calmodel {command}'"
                known = {"--help"} | {opt for param in cli.commands[command].params for opt in param.opts}
                for option in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", rest):
                    assert option in known, \
                        f"{module}: 'calmodel {command}' has no option {option}"
                seen += 1
    assert seen >= 9


def test_one_process_per_module_with_tag_label_stub_meta_and_ext_args():
    for module in MODULES:
        text = module.read_text()
        name = module.parent.name
        assert len(re.findall(r"^process\s+\w+", text, re.M)) == 1, name
        assert re.search(r"^\s*label\s+'process_(single|medium)'", text, re.M), f"{name}: no resource label"
        assert "stub:" in text and "script:" in text, name
        assert "params." not in text, f"{name}: modules must not read params"
        if name not in ("calmodel_env", "report", "sweep"):
            assert "tuple val(meta)" in text and re.search(r"^\s*tag\s", text, re.M), name
            assert "task.ext.args" in text, name


@pytest.mark.parametrize("path", NF_FILES)
def test_strict_syntax_rules(path):
    text = (REPO / path).read_text()
    assert "Channel." not in text, "use channel. (lower case)"
    assert "shell:" not in text and "nextflow.enable" not in text and "nextflow.preview" not in text
    assert not re.search(r"^import\s", text, re.M)
    assert not re.search(r"[{(,]\s*it\b|\bit\.", text), "name closure parameters instead of 'it'"


@pytest.mark.parametrize("path", NF_FILES[1:])
def test_workflows_never_parse_json_records(path):
    """Stage decisions reach the workflow as value outputs; only schema_validation reads JSON."""
    text = (REPO / path).read_text()
    if path.endswith("schema_validation.nf"):
        return
    assert "JsonSlurper" not in text and "readJson(json" not in text
    assert "src/calmodel" not in text, "preset names come from assets/schema_input.json"


def _interpolations(line: str) -> list[str]:
    """The outermost ${...} expressions of a line (nested braces included)."""
    found, i = [], line.find("${")
    while i >= 0:
        depth, j = 0, i + 1
        while j < len(line):
            depth += {"{": 1, "}": -1}.get(line[j], 0)
            if depth == 0:
                break
            j += 1
        found.append(line[i + 2:j])
        i = line.find("${", j)
    return found


# Script variables that modules build from Shell.quote'd parts or from trusted config.
BUILT = ("Shell.quote(", "task.", "args", "options", "source", "alpha", "field", "bandpass", "truth_args", "meta.arm}")


@pytest.mark.parametrize("path", [p for p in NF_FILES if p.startswith("modules/")])
def test_data_values_reach_scripts_only_quoted(path):
    """meta values and staged paths appear in command lines only through Shell.quote."""
    for block in _script_blocks((REPO / path).read_text()):
        for line in block.splitlines():
            if "calmodel " not in line:
                continue
            for expr in _interpolations(line):
                assert (expr + "}").startswith(BUILT), f"{path}: unquoted ${{{expr}}}"


def test_no_global_path_override_and_bin_entry_points():
    config = (REPO / "nextflow.config").read_text()
    assert "PATH" not in re.sub(r"//.*", "", config)
    for name in ("calmodel", "record_value"):
        assert os.access(REPO / "bin" / name, os.X_OK), name


# ---------------------------------------------------------------- schemas


def test_every_config_parameter_is_in_the_schema_with_its_default():
    block = re.search(r"^params \{(.*?)^\}", (REPO / "nextflow.config").read_text(), re.S | re.M).group(1)
    config = dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, re.M))
    assert set(config) == set(PARAMS)
    for name, prop in PARAMS.items():
        assert prop.get("description") and prop.get("type"), name
        assert "pattern" in prop or "enum" in prop or prop["type"] == "boolean", name
        value = config[name].strip("'\"")
        if value == "null":
            assert "default" not in prop, name
        else:
            assert str(prop["default"]).lower() == value.lower(), name


def test_samplesheet_schema_restricts_every_column():
    item = INPUT_SCHEMA["items"]
    for column, prop in item["properties"].items():
        assert "pattern" in prop or "enum" in prop, column
        assert prop.get("errorMessage"), column
    tile = re.compile(item["properties"]["tile"]["pattern"])
    assert not any(tile.search(v) for v in [".", "..", "a/b", "../x", "", "-x", ".hidden", "a b"])
    assert all(tile.search(v) for v in ["t1", "demo_vlass_like", "T-01.a"])
    field = re.compile(item["properties"]["gain_field"]["pattern"])
    assert all(field.search(v) for v in ["1331+30500002_0", "J1445+0958", "3C286", "N5921_2"])
    assert not any(field.search(v) for v in ["x'", "a;b", "a b", "$(x)", "`x`", "a|b", "a&b", "-x", "a,b", "a*", ""])


def test_preset_names_match_the_python_presets():
    presets = {p.name[:-5] for p in PRESETS.iterdir() if p.name.endswith(".yaml")} - {"defaults"}
    assert set(INPUT_SCHEMA["items"]["properties"]["preset"]["enum"]) == presets


def test_help_is_generated_from_the_schema(tmp_path):
    proc = nextflow(["--help"], cwd=tmp_path, check=True)
    for name, prop in PARAMS.items():
        assert f"--{name}" in proc.stdout and prop["description"] in proc.stdout, name


# ---------------------------------------------------------------- hostile input


def _no_task_started(tmp_path):
    return not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


@pytest.mark.parametrize("row, column, value", [
    ("t1,point,x'$(touch {marker})'", "gain_field", "x'$(touch {marker})'"),
    ("t1,point,x';touch {marker};'", "gain_field", "x';touch {marker};'"),
    ("..,point,", "tile", ".."),
])
def test_injection_and_traversal_stop_before_any_task(tmp_path, row, column, value):
    """Issue 13, items 1 and 2, as reported: a real run, and nothing is created."""
    marker = tmp_path / "PWNED"
    sheet = tmp_path / "s.csv"
    sheet.write_text("tile,preset,gain_field\n" + row.format(marker=marker) + "\n")
    proc = nextflow(["--input", str(sheet), "--outdir", str(tmp_path / "ss" / "o")], cwd=tmp_path)
    assert proc.returncode != 0
    assert "row 1" in proc.stdout and f"column {column}" in proc.stdout
    assert f"value '{value.format(marker=marker)}'" in proc.stdout
    assert not marker.exists() and _no_task_started(tmp_path)
    # Nextflow opens its trace in <outdir>/pipeline_info at start; nothing else is written.
    assert {str(p.relative_to(tmp_path)) for p in (tmp_path / "ss").glob("*/*")} <= {"ss/o/pipeline_info"}


def test_every_hostile_value_is_named_in_one_run(tmp_path):
    """Other metacharacters and other columns: every bad value is reported (row, column,
    value) in one message, before any task starts."""
    marker = tmp_path / "PWNED"
    rows = [
        ("a1", "gain_field", f"x`touch {marker}`"),
        ("a2", "gain_field", f"x$(touch {marker})"),
        ("a3", "flux_field", f"x|touch {marker}"),
        ("a4", "flux_field", f"x&touch {marker}"),
        ("a5", "targets", f"T01;x touch {marker}"),
        ("a6", "targets", "T01;"),
        ("a8", "modes", "ql;rm"),
        ("a9", "seed", "-5"),
        ("a10", "seed", "abc"),
        ("a11", "build_model", "sometimes"),
        ("a12", "config", f"x$(touch {marker}).yaml"),
        ("a13", "model", "m;x"),
        ("a14", "flux_field", "-x"),
    ]
    columns = ["tile", "preset", "gain_field", "flux_field", "targets", "modes", "seed", "build_model", "config", "model"]
    lines = [",".join(columns)]
    for tile, column, value in rows:
        values = {c: "" for c in columns} | {"tile": tile, "preset": "point", column: value}
        lines.append(",".join(values[c] for c in columns))
    lines.append("../up,point,,,,,,,,")
    lines.append("a1,point,,,,,,,,")  # duplicate tile id
    sheet = tmp_path / "s.csv"
    sheet.write_text("\n".join(lines) + "\n")
    proc = nextflow(["--input", str(sheet), "--outdir", str(tmp_path / "o")], cwd=tmp_path)
    assert proc.returncode != 0
    for number, (tile, column, value) in enumerate(rows, start=1):
        assert f"row {number} (tile '{tile}'), column {column}, value '{value}'" in proc.stdout, (tile, proc.stdout[-3000:])
    assert "column tile, value '../up'" in proc.stdout
    assert "column tile: value 'a1' appears 2 times" in proc.stdout
    assert not marker.exists() and _no_task_started(tmp_path)


@pytest.mark.parametrize("content, message", [
    ("tile,preset,colour\nt1,point,blue\n", "unknown column(s) colour"),
    ("tile,preset\nt1,nonsense\n", "column preset, value 'nonsense': must be one of point, vlass-like"),
    ("tile,preset\n", "no rows"),
    ("tile,preset,ms\nt1,point,x.ms\n", "give exactly one of the columns ms, preset"),
    ("tile\nt1\n", "give exactly one of the columns ms, preset"),
    ('tile,preset,gain_field\nt1,point,"x\ntouch PWNED"\n', "cannot be read as CSV"),  # a newline in a quoted value
    ("tile,preset,gain_field\nt1,point,x y\n", "column gain_field, value 'x y'"),
])
def test_bad_samplesheets(tmp_path, content, message):
    sheet = tmp_path / "bad.csv"
    sheet.write_text(content)
    proc = nextflow(["--input", str(sheet), "--outdir", str(tmp_path / "o")], cwd=tmp_path)
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout[-2000:]
    assert _no_task_started(tmp_path)


def test_bad_parameters_are_all_named(tmp_path):
    proc = nextflow(["-profile", "test", "--outdir", str(tmp_path / "o"), "--max_cpus", "two", "--on_tile_error",
                     "skip", "--modes", "ql;xx", "--max_memory", "lots", "--colour", "blue"], cwd=tmp_path)
    assert proc.returncode != 0
    for text in ["--max_cpus 'two': expected a whole number", "--on_tile_error 'skip': must be one of finish, ignore",
                 "--modes 'ql;xx'", "--max_memory 'lots'", "unknown parameter --colour"]:
        assert text in proc.stdout, text
    assert _no_task_started(tmp_path)
    proc = nextflow(["--input", str(tmp_path / "missing.csv")], cwd=tmp_path)
    assert proc.returncode != 0 and "samplesheet not found" in proc.stdout


# ---------------------------------------------------------------- the stub graph


def test_test_otf_profile_keeps_base_time_and_sizes_its_mosaics(tmp_path):
    """-profile test_otf (the small-node sizing plus IMAGE's 6 GB): one mosaic per arm and
    mode, published; every process_medium task at 1 cpu with base.config's 4 h (a profile block
    with base.config's own selector once replaced it, and a 40-min SE mosaic was killed at
    1 h); IMAGE at 6 GB."""
    outdir = tmp_path / "o"
    nextflow(["-profile", "test_otf", "-stub-run", "--outdir", str(outdir)], cwd=tmp_path, check=True)
    rows = _trace_rows(outdir)
    images = [r for r in rows if r["process"].endswith(":IMAGE")]
    assert sorted(r["tag"].split(":", 1)[1] for r in images) == [
        "model:mosaic:ql", "model:mosaic:se", "nomodel:mosaic:ql", "nomodel:mosaic:se"]
    for r in images:
        assert (r["cpus"], r["memory"], r["time"]) == ("1", "6 GB", "4h"), r
    build = next(r for r in rows if r["process"].endswith(":BUILD_MODEL"))
    assert (build["cpus"], build["time"]) == ("1", "4h"), build
    assert sorted(p.name for p in (outdir / "demo_otf_stripe" / "images").iterdir()) == [
        "image_model_mosaic_ql", "image_model_mosaic_se", "image_nomodel_mosaic_ql", "image_nomodel_mosaic_se"]


def test_stub_run_pairs_arms_writes_manifest_and_stays_in_outdir(tmp_path):
    outdir = tmp_path / "ss" / "o"
    proc = nextflow(["-profile", "test", "-stub-run", "--outdir", str(outdir)], cwd=tmp_path, check=True)
    assert "REPORT" in proc.stdout
    assert (outdir / "report" / "report.html").exists()
    assert [p.name for p in (tmp_path / "ss").iterdir()] == ["o"]
    manifests = list((tmp_path / "work").glob("*/*/manifest.csv"))
    assert len(manifests) == 1
    with manifests[0].open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["tile", "field", "mode", "arm", "stage", "path"]
    for row in rows:
        assert (manifests[0].parent / row["path"]).is_file(), row
    for tile in ("demo_vlass_like", "demo_coequal_double"):
        stages = [(r["stage"], r["field"], r["mode"], r["arm"]) for r in rows if r["tile"] == tile]
        for mode in ("ql", "se"):
            for stage in ("image", "catalog"):
                assert {(stage, "T01", mode, "model"), (stage, "T01", mode, "nomodel")} <= set(stages)
            assert ("compare", "T01", mode, "") in stages
        for stage in ("simulate", "characterize", "build_model"):
            assert (stage, "", "", "") in stages
        assert {("calibrate", "", "", "model"), ("calibrate", "", "", "nomodel")} <= set(stages)
    assert len({r["path"] for r in rows}) == len(rows)
    # docs/output.md: large products (measurement sets, build-model's model.cl) stay in the
    # work directory; the records, the small component lists and the model images are
    # published. The stubs write the real stages' layout and make the same moves.
    assert not list(outdir.rglob("*.ms")) and not list(outdir.rglob("model.cl"))
    for tile in ("demo_vlass_like", "demo_coequal_double"):
        for arm in ("nomodel", "model"):
            assert (outdir / tile / f"calibrate_{arm}" / "calibrate.json").is_file()
            assert (outdir / tile / f"calibrate_{arm}" / "gain_calibrator_model.cl").is_dir()
            assert (outdir / tile / f"calibrate_{arm}" / "caltables").is_dir()
        assert (outdir / tile / "build_model" / "model.tt0").is_dir()
        assert (outdir / tile / "simulate" / "truth" / "calibrator.cl").is_dir()
    made = [p for p in (tmp_path / "work").glob("*/*/calibrated.ms") if not p.is_symlink()]  # not staged copies
    assert len(made) == 4


def test_stub_run_of_a_sweep_reads_the_samplesheet_it_writes(tmp_path):
    """-profile sweep: SWEEP's samplesheet is validated and its tiles run; the report gets
    the points (the real map: tests/test_sweep.py)."""
    outdir = tmp_path / "o"
    proc = nextflow(["-profile", "sweep", "-stub-run", "--outdir", str(outdir)], cwd=tmp_path, check=True)
    assert "SWEEP" in proc.stdout and "REPORT" in proc.stdout
    assert (outdir / "sweep" / "points.csv").is_file() and (outdir / "report" / "report.html").is_file()
    assert (outdir / "r1_sep1_alpha-0.7_n1_seed1" / "simulate" / "tile.json").is_file()
    refused = nextflow(["-profile", "sweep", "-stub-run", "--input", "x.csv", "--outdir", str(outdir)],
                       cwd=tmp_path, check=False)
    assert refused.returncode != 0 and "not both" in refused.stdout + refused.stderr


# ---------------------------------------------------------------- resources and retries


def _project_around(root, probe):
    """The pipeline's configuration around a probe workflow (tests/pipeline/<probe>)."""
    project = root / "project"
    project.mkdir()
    for name in ("nextflow.config", "conf", "nextflow_schema.json", "bin", "assets"):
        (project / name).symlink_to(REPO / name)
    (project / "main.nf").symlink_to(REPO / "tests" / "pipeline" / probe)
    (root / "local.config").write_text("process.executor = 'local'\n")
    return root


@pytest.fixture(scope="module")
def probe_project(tmp_path_factory):
    return _project_around(tmp_path_factory.mktemp("probe"), "resources_probe.nf")


def _probe(root, name, code, last_attempt, *args):
    cwd = root / name
    cwd.mkdir()
    proc = run(["nextflow", "run", str(root / "project"), "--outdir", "o", *args], cwd=cwd, check=False,
               env={"PROBE_EXIT": str(code), "PROBE_LAST_ATTEMPT": str(last_attempt)}, timeout=300)
    return proc, _trace_rows(cwd / "o"), cwd


def _memory_gb(text):
    number, unit = text.split()
    return float(number) * {"MB": 1 / 1024, "GB": 1, "TB": 1024}[unit]


def _hours(text):
    return sum(float(n) * {"h": 1, "m": 1 / 60, "s": 1 / 3600, "d": 24}[u] for n, u in re.findall(r"([\d.]+)(h|m|s|d)", text))


@pytest.mark.parametrize("code", [137, 143, 104, 75])  # 75: --out busy (an orphaned writer)
def test_retries_escalate_but_never_exceed_the_caps(probe_project, code):
    max_retries = int(re.search(r"maxRetries\s*=\s*(\d+)", (REPO / "conf" / "base.config").read_text()).group(1))
    proc, rows, _ = _probe(probe_project, f"retry{code}", code, max_retries + 1,
                           "--max_cpus", "1", "--max_memory", "3.GB", "--max_time", "90.m")
    assert proc.returncode == 0, proc.stdout[-2000:]
    for process in ("PROBE_SINGLE", "PROBE_MEDIUM"):
        attempts = sorted((r for r in rows if r["process"] == process), key=lambda r: int(r["attempt"]))
        assert [int(r["attempt"]) for r in attempts] == list(range(1, max_retries + 2))
        for r in attempts:
            assert int(r["cpus"]) <= 1 and _memory_gb(r["memory"]) <= 3 and _hours(r["time"]) <= 1.5, r


def test_requests_below_the_caps_escalate(probe_project):
    proc, rows, _ = _probe(probe_project, "escalate", 137, 2, "--max_cpus", "4", "--max_memory", "64.GB", "--max_time", "48.h")
    assert proc.returncode == 0, proc.stdout[-2000:]
    medium = sorted((r for r in rows if r["process"] == "PROBE_MEDIUM"), key=lambda r: int(r["attempt"]))
    assert int(medium[0]["cpus"]) == 2
    assert _memory_gb(medium[1]["memory"]) == 2 * _memory_gb(medium[0]["memory"])


@pytest.mark.parametrize("code, on_tile_error", [
    (2, "ignore"),   # bad input of a tile: dropped, the run goes on
    (2, "finish"),
    (1, "ignore"),   # internal error: deterministic, never retried
    (64, "ignore"),  # usage error: stops the run whatever --on_tile_error says
])
def test_deterministic_failures_are_never_retried(probe_project, code, on_tile_error):
    proc, rows, cwd = _probe(probe_project, f"exit{code}{on_tile_error}", code, 99, "--on_tile_error", on_tile_error)
    assert all(r["attempt"] == "1" for r in rows), rows
    assert any(r["status"] == "FAILED" and r["exit"] == str(code) for r in rows), rows
    assert "retried" not in proc.stdout
    assert (proc.returncode == 0) == (code == 2 and on_tile_error == "ignore")


def test_slurm_profile_options(probe_project):
    """--slurm_options in the README's form (a value starting with --), queue optional."""
    for name, args, expected in [
        ("sl1", ["--slurm_options", "--account=abc"], "queue=null clusterOptions=--account=abc"),
        ("sl2", ["--slurm_options=--account=abc --qos=high", "--slurm_queue", "short"],
         "queue=short clusterOptions=--account=abc --qos=high"),
        ("sl3", [], "queue=null clusterOptions=null"),
    ]:
        proc, rows, cwd = _probe(probe_project, name, 0, 1, "-profile", "slurm", "-c",
                                 str(probe_project / "local.config"), *args)
        assert proc.returncode == 0, proc.stdout[-2000:]
        out = "".join(p.read_text() for p in (cwd / "work").glob("*/*/.command.out"))
        assert expected in out, (name, out)


# ---------------------------------------------------------------- kill -9, then -resume


def _processes_under(folder):
    """pid -> (cmdline, cwd) of the processes whose working folder is inside ``folder``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if folder == cwd or folder in cwd.parents:
            found[int(proc.name)] = (cmdline, cwd)
    return found


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*") if p.is_file())


def test_resume_beside_an_orphaned_task_never_shares_its_output(tmp_path):
    """kill -9 of Nextflow leaves its running task orphaned; -resume reruns that task in the
    SAME work folder (Nextflow reuses a folder without .exitcode). calmodel's lock on --out
    makes the second writer exit 75 without touching anything; the workflow retries it in a
    new work folder and publishes that one's products. The orphan, stopped meanwhile (SIGSTOP
    keeps it holding the lock at a known point), then finishes its own folder undisturbed."""
    root = _project_around(tmp_path, "orphan_probe.nf")
    cwd = root / "launch"
    cwd.mkdir()
    work = cwd / "work"
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "NXF_OFFLINE": "true"}
    first = subprocess.Popen(["nextflow", "run", str(root / "project"), "--outdir", "o"], cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    orphan_out = None
    while orphan_out is None:  # the stage's CASA process has started writing its folder
        assert first.poll() is None and time.monotonic() < deadline, "the first run ended before the stage ran"
        logs = list(work.glob("*/*/simulate/casa.log")) if work.is_dir() else []
        orphan_out = logs[0].parent if logs else None
        time.sleep(0.2)
    first.kill()  # kill -9 of Nextflow (the launcher execs java: this is the JVM)
    first.wait()
    stage = {pid: info for pid, info in _processes_under(orphan_out.parent).items() if "calmodel" in info[0]}
    assert stage, "the task did not outlive Nextflow: nothing to test"
    for pid in stage:
        os.kill(pid, signal.SIGSTOP)
    try:
        before = _listing(orphan_out)
        proc = run(["nextflow", "run", str(root / "project"), "-resume", "--outdir", "o"], cwd=cwd, check=False,
                   timeout=600)
        # Nothing the second run did touched the orphan's folder.
        assert _listing(orphan_out) == before
    finally:
        for pid in stage:
            os.kill(pid, signal.SIGCONT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    rows = sorted(_trace_rows(cwd / "o"), key=lambda r: int(r["attempt"]))
    assert [(r["attempt"], r["exit"]) for r in rows] == [("1", "75"), ("2", "0")], rows
    dirs = [next(work.glob(f"{r['hash']}*")) for r in rows]
    assert dirs[0] == orphan_out.parent, "-resume no longer reuses the orphan's folder: revisit the lock"
    assert dirs[1] != dirs[0]
    err = (dirs[0] / ".command.err").read_text()
    assert "is being written by another calmodel process" in err, err
    published = cwd / "o" / "simulate"
    assert json.loads((published / "tile.json").read_text())
    assert _listing(published) and not (published / "FAILED").exists()
    # The orphan, let go, completes its own folder.
    deadline = time.monotonic() + 300
    while any(Path(f"/proc/{pid}").exists() for pid in stage) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (orphan_out / "tile.json").is_file() and not (orphan_out / "FAILED").exists()
