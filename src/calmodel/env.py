"""`calmodel env`: what this installation has, and what it is missing."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from calmodel import CalmodelError, __version__

NEXTFLOW_VERSION_RE = re.compile(r"version\s+(\d+\.\d+\.\d+\S*)")


@dataclass
class EnvReport:
    versions: dict[str, str] = field(default_factory=dict)
    measures_path: str | None = None
    missing: list[str] = field(default_factory=list)


def _module_version(name: str) -> str:
    module = importlib.import_module(name)
    if name == "casatools":
        return module.version_string()
    if name == "casatasks":
        return module.version_string()
    return str(getattr(module, "__version__"))


def nextflow_version(executable: str = "nextflow") -> str:
    """Ask the Nextflow launcher itself for its version."""
    # The set-up puts the launcher beside this Python, so `.venv/bin/calmodel env`
    # finds it without an activated environment.
    path = shutil.which(executable) or shutil.which(executable, path=str(Path(sys.executable).parent))
    if path is None:
        raise FileNotFoundError("nextflow is not on PATH")
    out = subprocess.run(
        [path, "-version"], capture_output=True, text=True, timeout=120, check=False
    )
    match = NEXTFLOW_VERSION_RE.search(out.stdout + out.stderr)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"`{path} -version` failed: {(out.stderr or out.stdout).strip()[:200]}")
    return match.group(1)


def collect(check_nextflow: bool = True) -> EnvReport:
    report = EnvReport(versions={"calmodel": __version__})
    for name in ("casatools", "casatasks", "bdsf", "astropy", "numpy"):
        try:
            report.versions[name] = _module_version(name)
        except Exception as err:  # noqa: BLE001 - any import failure means "missing"
            report.missing.append(f"{name} ({type(err).__name__}: {err})")
    if "casatools" in report.versions:
        from calmodel.core.casa import casa_tools

        try:
            report.measures_path = casa_tools().tools.ctsys.measurespath()
        except CalmodelError as err:
            report.missing.append(f"CASA measures data ({err})")
    if check_nextflow:
        try:
            report.versions["nextflow"] = nextflow_version()
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
            report.missing.append(f"nextflow ({err})")
    return report


@click.command("env")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON to this file.")
@click.option("--no-nextflow", is_flag=True,
              help="Do not require Nextflow (inside a pipeline task or container).")
def command(json_path: Path | None, no_nextflow: bool) -> None:
    """Versions of calmodel, CASA, PyBDSF, astropy, numpy, Nextflow and the measures path."""
    from calmodel.core.io import write_json

    report = collect(check_nextflow=not no_nextflow)
    for name, version in report.versions.items():
        click.echo(f"{name:10s} {version}")
    click.echo(f"{'measures':10s} {report.measures_path or '-'}")
    if json_path is not None:
        write_json(json_path, {"calmodel_version": __version__, **asdict(report)})
    if report.missing:
        raise CalmodelError("missing: " + "; ".join(report.missing))
