"""The one place that knows how CASA is set up.

CASA (modular) reads a site configuration, ``casasiteconfig.py``, from the Python
path before anything else. The set-up writes one into the virtual environment
that points ``measurespath`` at the ``casadata`` package and switches every
auto-update off, so CASA runs offline. Stages import CASA through
:func:`casa_tools`, which turns a missing or broken installation into one
clear :class:`~calmodel.CalmodelError` instead of a deep traceback.

Every CASA task call goes through :func:`run_task`, so that a failing task surfaces
the same way in every stage: one :class:`CasaTaskError` line naming the task and
what it was doing (the CLI exits 1 with it: an internal error, not bad input).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import shutil
import sysconfig
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from calmodel import CalmodelError

SITE_CONFIG_NAME = "casasiteconfig.py"


def casadata_path() -> Path:
    """Folder holding the measures tables and the data repository shipped by casadata."""
    try:
        import casadata
    except ImportError as err:
        raise CalmodelError("casadata is not installed: run `make setup`") from err
    return Path(casadata.datapath)


def site_config_text(measures_path: Path) -> str:
    return (
        "# Written by calmodel's set-up (calmodel.core.casa.write_site_config): offline CASA.\n"
        f"measurespath = {str(measures_path)!r}\n"
        "datapath = [measurespath]\n"
        "measures_auto_update = False\n"
        "data_auto_update = False\n"
        # The CASA logger is pointed at each stage's own folder by casa_log_to();
        # this keeps `import casatasks` from leaving casa-*.log files in the cwd.
        "logfile = '/dev/null'\n"
    )


def write_site_config(target_dir: Path | str | None = None) -> Path:
    """Write the site config into ``target_dir`` (default: this environment's site-packages;
    the container uses /opt/casa, one of the paths casaconfig checks first).

    Idempotent: the file is rewritten only when its content would change.
    """
    target_dir = Path(target_dir or sysconfig.get_paths()["purelib"])
    path = target_dir / SITE_CONFIG_NAME
    text = site_config_text(casadata_path())
    if path.exists() and path.read_text() == text:
        return path
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Casa:
    """The CASA modules a stage needs, imported once."""

    tools: object
    tasks: object


def casa_tools() -> Casa:
    """Import casatools and casatasks, or fail with one actionable line."""
    try:
        tools = importlib.import_module("casatools")
        tasks = importlib.import_module("casatasks")
    except ImportError as err:
        raise CalmodelError(f"CASA is not importable ({err}); run `make setup`") from err
    measures = Path(tools.ctsys.measurespath() or "")
    if not (measures / "geodetic").is_dir():
        raise CalmodelError(
            f"CASA measures data not found at '{measures}': the CASA site config is missing; "
            "run `make setup` (or `python -m calmodel.core.casa`)"
        )
    return Casa(tools=tools, tasks=tasks)


def casa_log_to(path: Path) -> None:
    """Send the CASA log of this process to ``path`` (one log per stage output folder)."""
    casa = casa_tools()
    casa.tasks.casalog.setlogfile(str(path))
    # Keep the terminal for calmodel's own messages; CASA's (including the harmless
    # "leap second table out-of-date" once casadata is older than today) go to the log.
    casa.tasks.casalog.showconsole(onconsole=False)
    casa.tasks.casalog.setglobal(True)  # tools' messages go through this logger too (after the above)


@contextmanager
def console_to(path: Path) -> Iterator[None]:
    """Send everything written to the process's stdout/stderr (CASA's C++ code writes
    there directly, e.g. "Found no unflagged data at ...") to ``path`` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@contextmanager
def stage_console(out: Path) -> Iterator[None]:
    """CASA's own terminal chatter goes to OUT/casa_console.log; calmodel prints the summary.

    The chatter is collected elsewhere first, so that a stage refusing its input leaves no
    OUT folder behind: in the folder a parent process reads should CASA kill this one
    (``core.child``), else in a temporary file."""
    from calmodel.core.child import announce, console_path
    from calmodel.core.io import share

    announce(out)
    tmp = console_path()
    if tmp is None:
        fd, name = tempfile.mkstemp(prefix="calmodel-console-", suffix=".log")
        os.close(fd)
        tmp = Path(name)
    try:
        with console_to(tmp):
            yield
    except Exception as err:
        # CASA's C++ code reports a full disk only on the console (the task then fails with
        # an unrelated message): bring that line to the terminal's one-line error.
        full = _disk_full_line(tmp)
        if full and full not in str(err):
            raise OSError(errno.ENOSPC, f"{full} (writing under {out}); {err}") from err
        raise
    finally:
        try:
            if Path(out).is_dir():
                share(Path(shutil.move(tmp, Path(out) / "casa_console.log")))
            else:
                tmp.unlink(missing_ok=True)
        except OSError:  # a full disk: the stage's own error is the one to report
            pass


def _disk_full_line(console: Path) -> str | None:
    """The first console line that says the disk is full, if any."""
    try:
        text = console.read_text(errors="replace")
    except OSError:
        return None
    return next((" ".join(line.split()) for line in text.splitlines() if "No space left" in line), None)


class CasaTaskError(RuntimeError):
    """A CASA task failed (raised, or returned False): an internal error, not bad input."""


def run_task(name: str, what: str | None = None, **kwargs):
    """Run the CASA task ``name`` with ``kwargs``; its failure becomes one CasaTaskError line."""
    what = what or f"on {kwargs.get('vis', '')}"
    try:
        result = getattr(casa_tools().tasks, name)(**kwargs)
    except CalmodelError:
        raise
    except Exception as err:  # CASA tasks raise bare RuntimeError/AssertionError/ValueError
        first = str(err).splitlines()[0] if str(err) else repr(err)
        raise CasaTaskError(f"{name} failed ({what}): {first}; see casa.log") from err
    if result is False:
        raise CasaTaskError(f"{name} failed ({what}); see casa.log")
    return result


if __name__ == "__main__":  # used by the set-up and the container recipe
    print(write_site_config(os.environ.get("CALMODEL_SITE_DIR")))
