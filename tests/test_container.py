"""The Apptainer recipe installs exactly the package's pinned environment."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_every_dependency_is_pinned_exactly():
    pins = _pins()
    assert {"casatools", "casatasks", "casadata", "six", "bdsf", "astropy", "numpy", "click",
            "matplotlib", "pytest"} <= set(pins)
    assert pins["casatools"] == pins["casatasks"], "casatools and casatasks must be one CASA release"


def test_package_reads_the_same_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_container_installs_the_pinned_requirements():
    recipe = (REPO / "containers" / "calmodel.def").read_text()
    assert re.search(r"^\s*requirements\.txt\s+\S+requirements\.txt$", recipe, re.M)
    assert "pip install --no-cache-dir -r /opt/calmodel/src/requirements.txt" in recipe
    # No second, drifting list of versions inside the recipe.
    assert not re.search(r"\b(casatools|casatasks|bdsf|numpy)==", recipe)
    # Same CPython minor as the venv (CASA wheels are per-version).
    assert "python:3.11" in recipe and "python3.11 -m venv" in recipe
    # Offline CASA site config written in the image, at a path casaconfig reads.
    assert "CALMODEL_SITE_DIR=/opt/casa" in recipe and "python -m calmodel.core.casa" in recipe
