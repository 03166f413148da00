"""The image: one install script for both recipes, with exactly the package's pins; and,
once built (scripts/build-image.sh), the image's own test and the workflow's test profile
inside it with podman (`-profile test,podman`).

The static checks always run. The image checks are marked `container` and `slow`
(CI runs them in their own step after building the image); without podman or the image
they skip, and with CI=true they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib

import pytest

from conftest import REPO, VENV_BIN, need, run

IMAGE = os.environ.get("CALMODEL_IMAGE", "localhost/calmodel:0.1.0")
INSTALL = REPO / "containers" / "install.sh"
DEF = REPO / "containers" / "calmodel.def"
CONTAINERFILE = REPO / "containers" / "Containerfile"


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


def test_install_script_installs_exactly_the_pins_offline_casa_and_tests_itself():
    script = INSTALL.read_text()
    assert os.access(INSTALL, os.X_OK)
    assert re.search(r'pip" install [^\n]*-r "\$SRC/requirements\.txt"', script)
    assert re.search(r'pip" install [^\n]*--no-deps "\$SRC"', script)
    # Same CPython minor as the venv (the CASA wheels are cp311), from Debian.
    assert "python3.11 python3.11-venv" in script and 'python3.11 -m venv "$VENV"' in script
    assert "VENV=$PREFIX/venv" in script and "PREFIX=/opt/calmodel" in script
    # Offline CASA: the site config at /opt/casa, written by the one module that owns it.
    module = re.search(r"^CASA_SITE_MODULE=(\S+)$", script, re.M)
    assert module, "one line names the site-config module"
    assert (REPO / "src" / (module.group(1).replace(".", "/") + ".py")).is_file(), module.group(1)
    assert 'CALMODEL_SITE_DIR="$CASA_SITE_DIR"' in script and "CASA_SITE_DIR=/opt/casa" in script
    # The image's test, and its record of exact versions.
    assert "calmodel\" env --no-nextflow --json \"$PREFIX/calmodel-env.json\"" in script
    # Charliecloud reads the image's environment from /ch/environment.
    assert "/ch/environment" in script


def test_no_second_list_of_versions():
    for recipe in (INSTALL, DEF, CONTAINERFILE):
        text = recipe.read_text()
        assert not re.search(r"\b(casatools|casatasks|casadata|bdsf|numpy|astropy)==", text), recipe


def test_both_recipes_run_the_one_install_script_on_debian():
    recipe = DEF.read_text()
    header = dict(re.findall(r"^(Bootstrap|OSVersion|MirrorURL|Include):\s*(\S+)", recipe, re.M))
    assert header["Bootstrap"] == "debootstrap" and header["OSVersion"] == "bookworm"
    assert re.search(r"^\s*containers/install\.sh\s+/opt/calmodel/install\.sh$", recipe, re.M)
    assert re.search(r"^\s*requirements\.txt\s+/opt/calmodel/src/requirements\.txt$", recipe, re.M)
    assert re.search(r"^\s*src\s+/opt/calmodel/src/src$", recipe, re.M)
    assert re.search(r"^%post\n\s+sh /opt/calmodel/install\.sh /opt/calmodel/src$", recipe, re.M)
    assert "calmodel env --no-nextflow" in recipe.split("%test", 1)[1]

    oci = CONTAINERFILE.read_text()
    assert re.search(r"^FROM \$\{BASE\}$", oci, re.M) and "bookworm" in oci
    assert "COPY requirements.txt pyproject.toml README.md /opt/calmodel/src/" in oci
    assert "COPY src /opt/calmodel/src/src" in oci
    assert "COPY containers/install.sh /opt/calmodel/install.sh" in oci
    assert re.search(r"^RUN .*sh /opt/calmodel/install\.sh /opt/calmodel/src$", oci, re.M)
    # The build context of the OCI recipe carries what the install script needs, nothing more.
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:5] == ["!requirements.txt", "!pyproject.toml", "!README.md",
                                                  "!src/", "!containers/install.sh"]


def test_podman_profile_runs_tasks_in_the_image():
    config = (REPO / "nextflow.config").read_text()
    assert re.search(r"podman\s*\{\s*includeConfig 'conf/podman\.config'\s*\}", config)
    profile = (REPO / "conf" / "podman.config").read_text()
    assert "enabled    = true" in profile and "process.container = { params.container }" in profile
    assert "env.PATH = '/opt/calmodel/venv/bin:" in profile


# ---------------------------------------------------------------- the built image


def _podman(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    need(shutil.which("podman") is not None, "podman (apt-get install -y podman runc)")
    need(_podman("image", "exists", IMAGE).returncode == 0,
         f"the image {IMAGE} (scripts/podman-setup.sh && scripts/build-image.sh)")
    return IMAGE


@pytest.mark.container
@pytest.mark.slow
def test_image_test_passes_and_records_the_pinned_versions(image):
    proc = _podman("run", "--rm", "--network", "none", image)      # CMD: calmodel env --no-nextflow
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "/opt/calmodel/venv/" in proc.stdout and "casadata/__data__" in proc.stdout, proc.stdout
    record = json.loads(_podman("run", "--rm", "--network", "none", image,
                                "cat", "/opt/calmodel/calmodel-env.json").stdout)
    pins = _pins()
    assert record["missing"] == []
    assert record["versions"]["casatasks"] == pins["casatasks"]
    for name in ("bdsf", "astropy", "numpy"):
        assert record["versions"][name] == pins[name], name
    labels = json.loads(_podman("image", "inspect", image, "--format", "{{json .Labels}}").stdout)
    assert labels["io.calmodel.version.casatasks"] == pins["casatasks"]
    assert labels["io.calmodel.version.calmodel"] == record["versions"]["calmodel"]
    assert labels["org.opencontainers.image.revision"] not in ("", "unknown")
    freeze = _podman("run", "--rm", "--network", "none", image, "cat", "/opt/calmodel/pip-freeze.txt").stdout
    for name, version in pins.items():
        assert re.search(rf"^{re.escape(name)}=={re.escape(version)}$", freeze, re.M | re.I), name


@pytest.mark.container
@pytest.mark.slow
def test_workflow_test_profile_runs_inside_podman(image, tmp_path):
    run([str(VENV_BIN / "nextflow"), "run", str(REPO), "-profile", "test,podman", "--container", image,
         "--outdir", "results"], cwd=tmp_path, timeout=3600)
    results = tmp_path / "results"
    # The tasks ran in the image: calmodel env, run as a task, reports the image's venv.
    env = json.loads((results / "pipeline_info" / "calmodel_env.json").read_text())
    assert env["missing"] == [] and env["measures_path"].startswith("/opt/calmodel/venv/"), env
    wrappers = list((tmp_path / "work").glob("*/*/.command.run"))
    assert wrappers and all("podman run" in w.read_text() for w in wrappers)
    trace = sorted((results / "pipeline_info").glob("trace_*.txt"))[-1].read_text().splitlines()
    assert len(trace) > 20 and all("\tCOMPLETED\t" in line for line in trace[1:]), trace
    report = json.loads((results / "report" / "report.json").read_text())
    vlass, double = report["tiles"]["demo_vlass_like"], report["tiles"]["demo_coequal_double"]
    assert double["scope"]["scope"] == "out-of-scope" and double["verdict"] == "significant-change"
    assert vlass["scope"]["scope"] == "in-scope" and report["overall"]["in-scope"]["verdict"] == vlass["verdict"]


def test_charliecloud_profile_runs_tasks_in_the_directory_image():
    config = (REPO / "nextflow.config").read_text()
    assert re.search(r"charliecloud\s*\{\s*includeConfig 'conf/charliecloud\.config'\s*\}", config)
    profile = (REPO / "conf" / "charliecloud.config").read_text()
    # Charliecloud 0.31 rejects --write-fake; casatools needs HOME; PATH from /ch/environment.
    assert "writeFake  = false" in profile and "--home --set-env" in profile
    assert "process.container = { params.container }" in profile
