"""CASA stages run in a child process, so that a C++ abort still ends with one line.

CASA's C++ code sometimes kills the whole process instead of raising: SIGABRT ("terminate
called ...", "double free") on a full disk, SIGSEGV on a corrupt table. Python's handlers
never run then, so the stage could neither write ``OUT/FAILED`` nor say anything, and the
exit status (134, 139) falls in the range the workflow retries as out-of-memory: the same
deterministic failure would run three times.

So the ``calmodel`` group runs each CASA stage (:data:`ISOLATED`) as a child: the same
command in a fresh interpreter, marked by :data:`ENV_VAR`, which names a private folder
the child reports into:

* ``console.log``: CASA's console chatter (``core.casa.stage_console`` writes there
  instead of a temporary file of its own);
* ``stage.json``: the stage's output folder and, when it runs inside
  ``core.outputs.stage_output``, its record and the products and work folders a failure
  must remove (with the hidden temporaries of half-written products, see crash_summary).

When the child dies of a crash signal (:data:`CRASH_SIGNALS`), the parent does what the
child's own failure handling would have done (remove products and work folders, write
``OUT/FAILED``), keeps the console as ``OUT/casa_console.log``, prints one line and exits 1
(internal error, never retried). Any other signal (SIGKILL from an out-of-memory kill,
SIGTERM from the scheduler) is passed on as 128 + signal, which the workflow retries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

ENV_VAR = "CALMODEL_CHILD_DIR"
# The stages that run CASA (the same as cli.CASA_LOG_STAGES).
ISOLATED = frozenset({"simulate", "characterize", "build-model", "calibrate", "image"})
# Deterministic crashes of native code: retrying them only repeats them.
CRASH_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL})
# Console lines worth the terminal, most telling first.
CLUES = ("No space left", "terminate called", "SEVERE")
# Signals a scheduler or a terminal sends to the parent; the child must get them too.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)

EXIT_INTERNAL = 1


def report_dir() -> Path | None:
    """The folder this process reports into, when it is a child; else None."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def console_path() -> Path | None:
    """Where a child keeps CASA's console (its parent picks it up after a crash)."""
    folder = report_dir()
    return folder / "console.log" if folder else None


def announce(out: Path, record: str | None = None, products: Sequence[str] = (),
             scratch: Sequence[str] = ()) -> None:
    """Tell the parent (if any) where this stage writes and what a crash must remove."""
    folder = report_dir()
    if folder is None:
        return
    path = folder / "stage.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update({"out": str(Path(out).absolute())})
    if record is not None:
        known.update({"record": record, "remove": [*products, *scratch]})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(path)


def run_isolated(command: str, args: Sequence[str]) -> int:
    """Run ``calmodel <command> <args>`` in a child; return the exit status for this process."""
    folder = Path(tempfile.mkdtemp(prefix="calmodel-child-"))
    env = {**os.environ, ENV_VAR: str(folder)}
    code = "from calmodel.cli import main; main(prog_name='calmodel')"
    sys.stdout.flush()
    sys.stderr.flush()
    started: list[subprocess.Popen] = []

    def forward(signum, _frame):
        for proc in started:
            proc.send_signal(signum)
        if not started:  # before the child exists: end as the signal would have
            raise SystemExit(128 + signum)

    # The handlers first, so that a scheduler's SIGTERM reaches the child as soon as it exists.
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        try:
            started.append(subprocess.Popen([sys.executable, "-c", code, command, *args], env=env))
            status = started[0].wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if status >= 0:
            return status
        sig = signal.Signals(-status)
        if sig not in CRASH_SIGNALS:
            return 128 + sig.value  # e.g. 137 (OOM kill), 143 (SIGTERM): the workflow's retry
        print(f"calmodel: error: {command} failed: {crash_summary(folder, command, sig)}", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _clue(console: Path) -> str | None:
    try:
        lines = console.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for word in CLUES:
        found = next((" ".join(line.split()) for line in lines if word in line), None)
        if found:
            # CASA's source location says nothing to a user; the message is at the end.
            found = re.sub(r"\(file [^)]*\)\s*", "", found)
            return found if len(found) <= 240 else "..." + found[-237:]  # FAILED keeps 300
    return None


def crash_summary(folder: Path, command: str, sig: signal.Signals) -> str:
    """Clean up after a child killed by ``sig``; return the line for the terminal."""
    from calmodel.core.io import share
    from calmodel.core.outputs import OutputBusyError, exclusive, remove_quietly, write_failed

    console = folder / "console.log"
    clue = _clue(console)
    what = f"CASA crashed ({sig.name})" + (f": {clue}" if clue else "")
    stage_file = folder / "stage.json"
    stage = json.loads(stage_file.read_text()) if stage_file.exists() else {}
    if "out" not in stage:  # died before it knew its output folder
        return f"{what} (not retried)"
    out = Path(stage["out"])
    record = stage.get("record") or f"{command.replace('-', '_')}.json"
    try:
        with exclusive(out):  # the child's lock died with it
            # The products and work folders first: the space a full disk needs for FAILED.
            # The record too, should the crash come after it (a folder with FAILED has none).
            # Hidden entries are the crashed writer's temporaries (core.io's atomic_file/dir,
            # characterize's and catalog's work folders): a finished write is never hidden.
            hidden = [p.name for p in out.iterdir() if p.name.startswith(".")] if out.is_dir() else []
            for name in (*stage.get("remove", ()), *hidden, record):
                remove_quietly(out / name)
            write_failed(out, record, what)
    except OutputBusyError:  # another writer took over: its folder now, leave it alone
        return f"{what} (not retried)"
    kept = None
    if console.exists():
        # Beside the record if it fits; else (a full disk) in the temporary folder.
        for target in (out / "casa_console.log",
                       Path(tempfile.gettempdir()) / f"calmodel-console-{os.getpid()}.log"):
            try:
                kept = share(Path(shutil.copy(console, target)))
                break
            except OSError:
                remove_quietly(target)
    where = f"the console is in {kept}" if kept else "no console output kept"
    return f"{what} ({where}; not retried)"
