"""The foundation: offline CASA, `calmodel env`, a real Nextflow run, idempotent set-up."""

from __future__ import annotations

import re
import time

from conftest import REPO, VENV_BIN, run


def test_env_reports_pinned_versions():
    out = run([str(VENV_BIN / "calmodel"), "env"]).stdout
    versions = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert re.fullmatch(r"6\.7\.\S+", versions["casatools"])
    assert re.fullmatch(r"6\.7\.\S+", versions["casatasks"])
    assert re.fullmatch(r"1\.\d+\.\d+", versions["bdsf"])
    # Obtained by running the launcher itself (`nextflow -version`).
    assert re.fullmatch(r"24\.10\.\d+", versions["nextflow"])
    assert versions["measures"].endswith("casadata/__data__")


def test_env_names_missing_measures(tmp_path):
    # casaconfig honours CASASITECONFIG before any other site config.
    bad = tmp_path / "badsite.py"
    bad.write_text(f"measurespath = {str(tmp_path / 'nowhere')!r}\nmeasures_auto_update = False\n"
                   "data_auto_update = False\n")
    proc = run([str(VENV_BIN / "calmodel"), "env", "--no-nextflow"], cwd=tmp_path,
               env={"CASASITECONFIG": str(bad)}, check=False)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("calmodel: error:")]
    assert len(errors) == 1 and "measures" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_casa_runs_offline_without_update_attempts(tmp_path):
    # A fresh HOME: nothing but the venv's site config can supply the measures.
    code = (
        "import casatasks, casatools\n"
        "me = casatools.measures()\n"
        "print(me.observatory('VLA')['refer'])\n"
        "print(casatools.ctsys.measurespath())\n"
    )
    proc = run([str(VENV_BIN / "python"), "-c", code], cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert proc.stdout.splitlines()[0] == "ITRF"
    text = (proc.stdout + proc.stderr).lower()
    assert "not available" not in text and "download" not in text and "update" not in text
    assert not list(tmp_path.glob("casa-*.log")), "import must not leave CASA logs in the cwd"


def test_setup_second_run_is_a_fast_noop():
    run(["make", "-C", str(REPO), "setup"])  # brings a freshly edited checkout up to date
    started = time.monotonic()
    proc = run(["make", "-C", str(REPO), "setup"])
    assert time.monotonic() - started < 30
    assert "Nothing to be done" in proc.stdout
