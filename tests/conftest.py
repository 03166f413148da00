"""Shared fixtures: the repository, the venv's executables, small run helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 1800,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with the venv first on PATH; on failure show its output."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
                "NXF_OFFLINE": "true", **(env or {})}
    # Its own process group, killed whole on a timeout: a stage's CASA child would otherwise
    # outlive the test and hold the CPUs of the tests after it.
    with subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


# ---------------------------------------------------------------- tools that CI must have
# Outside CI a missing tool (chromium, Slurm, podman, a built image) skips the tests that
# need it. In CI (CI=true) the same absence is a failure: CI installs and starts them
# (.ci/run), so a skip there would hide a check that never ran.

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CHROMIUM = Path(os.environ.get("CALMODEL_CHROMIUM", "/usr/bin/chromium"))
# A skip whose reason names one of these is turned into a failure in CI (see the hook below).
CI_REQUIRED_TOOLS = ("chromium",)


def need(available: bool, what: str) -> None:
    """Skip when ``what`` is missing; fail instead when running in CI (CI=true)."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing, and CI (CI=true) must run this check", pytrace=False)
    pytest.skip(f"{what} is missing (CI=true would fail here)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's headless Chromium, for the report's browser check (apt-get install chromium)."""
    need(CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
         f"chromium ({CHROMIUM}; apt-get install -y chromium)")
    return CHROMIUM


def slurm_is_up() -> bool:
    """A controller that answers and a partition with a node that takes jobs."""
    import shutil

    if not all(shutil.which(exe) for exe in ("sbatch", "squeue", "scontrol", "sinfo")):
        return False
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
        nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    states = set(nodes.stdout.split())
    return "is UP" in ping.stdout and bool(states & {"idle", "mixed", "allocated", "completing"})


@pytest.fixture(scope="session")
def slurm() -> None:
    need(slurm_is_up(), "a running Slurm (scripts/slurm-up.sh as root)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: runs the workflow through a real Slurm (scripts/slurm-up.sh)")
    config.addinivalue_line("markers", "container: needs the image from scripts/build-image.sh and podman")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI, a skip for a missing required tool (e.g. a `skipif(not CHROMIUM.exists())`)
    is a failure: the check it guards must run there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).lower()
        if any(tool in reason for tool in CI_REQUIRED_TOOLS):
            report.outcome = "failed"
            report.longrepr = f"CI=true: {report.longrepr[2]} - CI installs it, so this must not skip"
