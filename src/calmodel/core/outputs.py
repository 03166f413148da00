"""A stage's output folder: where it may be, and what it holds after a failure.

Two rules every stage follows through :func:`stage_output` (its CLI wraps the stage in it):

* ``--out`` is never inside (or equal to) an input: a stage copying an MS into a folder
  inside that MS would copy itself recursively, and writing into an input breaks the
  rule that a stage never modifies its inputs (and Nextflow's -resume).
* After a failed run, ``--out`` holds no result that looks current: the previous run's
  record (``<stage>.json``, written last by every stage) and the products named by the
  stage are removed before the stage starts, and a failure leaves ``FAILED`` with the
  one-line reason. A complete run removes ``FAILED``. A failure also removes the
  products the failed run had already written (a complete-looking report.html beside a
  missing report.json, e.g. on a full disk) and the stage's work folders (``scratch``:
  private copies of the input, often as large as it), which frees the space for FAILED.

And one writer at a time: :func:`exclusive` holds a lock on ``--out`` for the stage's
lifetime, so a second calmodel writing the same folder (an orphaned task of a killed
Nextflow run, still writing the work folder that ``-resume`` reuses) stops at once with
:class:`OutputBusyError` instead of mixing its products with the first one's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from calmodel import CalmodelError
from calmodel.core.child import announce

FAILED_NAME = "FAILED"

class OutputBusyError(Exception):
    """Another process is writing the same ``--out``: try again once it has finished
    (the CLI exits 75, EX_TEMPFAIL, which the workflow retries in a new work folder)."""


def lock_path(out: Path) -> Path:
    """The lock of ``out``: a sibling file, so that it is never part of the products."""
    out = Path(out).absolute()
    return out.parent / f".{out.name}.lock"


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` for the block, or raise OutputBusyError at once.

    ``flock`` on a sibling file: released by the kernel when the holder exits, however it
    ends (a crash or kill -9 leaves no stale lock). The file is left in place: removing it
    would let two processes lock two different files of the same name. On a file system
    without flock (Lustre mounted without ``flock``) the stage runs unguarded."""
    path = lock_path(out).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise OutputBusyError(
                f"--out {out} is being written by another calmodel process"
                f"{f' (pid {holder})' if holder.isdigit() else ''}; not touched (lock {path})") from None
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            os.close(fd)
            fd = -1
        if fd >= 0:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # named in the other writer's error
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # releases the lock


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(out: Path, inputs: Iterable[Path | None]) -> None:
    """A CalmodelError if ``out`` is, or is inside, any of ``inputs`` (links resolved)."""
    out_real = Path(out).resolve()
    for given in inputs:
        if given is None:
            continue
        real = Path(given).resolve()
        if _inside(out_real, real):
            raise CalmodelError(f"--out {out} is inside the input {given}: a stage never writes "
                                "into its input; choose an output folder outside it")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it can be: while reporting a failure, that failure is the news."""
    try:
        _remove(Path(path))
    except OSError:
        pass


def write_failed(out: Path, record: str, message: str) -> None:
    """``out/FAILED``: ``<stage> failed: <message>``, one line (if ``out`` exists and it fits)."""
    out = Path(out)
    if not out.is_dir():
        return
    message = " ".join(str(message).split())[:300]
    try:
        (out / FAILED_NAME).write_text(f"{record.rsplit('.', 1)[0]} failed: {message}\n", encoding="utf-8")
    except OSError:  # e.g. the disk is full: the missing record still says "not done"
        pass


@contextmanager
def stage_output(out: Path, record: str, inputs: Iterable[Path | None] = (),
                 products: Iterable[str] = (), scratch: Iterable[str] = ()) -> Iterator[Path]:
    """Check ``out`` against ``inputs``, clear the previous run's ``record`` and
    ``products`` (names inside ``out``), run the block; on failure remove ``products``
    and ``scratch`` again and write ``out/FAILED``."""
    products, scratch = tuple(products), tuple(scratch)
    out = Path(out)
    check_out(out, inputs)
    with exclusive(out):  # before anything in out is touched
        announce(out, record, products, scratch)  # for the parent, should CASA kill this process
        failed = out / FAILED_NAME
        if out.is_dir():
            # The record first: from here on, the folder does not look like a finished run.
            for name in (record, FAILED_NAME, *products, *scratch):
                _remove(out / name)
        try:
            yield out
        except Exception as err:
            for name in (*products, *scratch):
                remove_quietly(out / name)
            write_failed(out, record, str(err) or type(err).__name__)
            raise
        failed.unlink(missing_ok=True)
