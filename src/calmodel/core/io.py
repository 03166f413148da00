"""Writing products atomically: one writer family, one permission rule.

Every product appears under its final name only once it is complete (written to a
temporary sibling, then renamed), so a later stage never picks up half a file or
half a measurement set. Files get the permissions ``open()`` would give them
(0666 minus the umask), folders 0777 minus the umask: ``mkstemp``/``mkdtemp`` make
them private (0600/0700), but products are shared (Nextflow, other users).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from calmodel import CalmodelError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def share(path: Path) -> Path:
    """Give ``path`` the usual permissions (the one rule above)."""
    mode = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, mode & ~_umask())
    return Path(path)


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it to ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        share(Path(tmp))
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; rename it to ``final`` only if the block succeeds.

    A measurement set is a folder, so a crash half-way must not leave a folder
    under the final name that a later stage would pick up.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    if tmp.is_dir():
        share(tmp)
    os.replace(tmp, final)


def copy_tree(src: Path, dst: Path, symlinks: bool = True, dirs_exist_ok: bool = False) -> Path:
    """Copy the folder ``src`` (an MS, a component list, an image) to ``dst``, writable.

    A private copy is opened for writing by CASA (FLAG_ROW, lock files, component fluxes):
    a copy of a read-only input that kept its read-only bits fails there (or aborts in
    C++), and could not even be removed afterwards. Every copied file and folder gets the
    one permission rule (:func:`share`), whatever the input's bits were.
    """
    shutil.copytree(src, dst, symlinks=symlinks, dirs_exist_ok=dirs_exist_ok)
    for folder, dirs, files in os.walk(dst):
        share(Path(folder))
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():  # a link's target is not part of the copy
                share(path)
    return Path(dst)


def write_text(path: Path, text: str) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/Infinity: undefined numbers are written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if hasattr(value, "tolist"):
        return _finite_or_none(value.tolist())
    return value


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    """A CSV with a header of ``columns`` (keys of a row not among them are left out)."""
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


def write_json(path: Path, payload: dict) -> Path:
    text = json.dumps(_finite_or_none(payload), indent=2, default=_jsonable, allow_nan=False)
    return write_text(path, text + "\n")


def read_json_object(path: Path) -> dict:
    """A JSON object from ``path`` (a stage record); a one-line CalmodelError otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise CalmodelError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise CalmodelError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise CalmodelError(f"{path}: not a text file") from None
    if not isinstance(data, dict):
        raise CalmodelError(f"{path}: expected a JSON object")
    return data


def write_table(table, path: Path, fmt: str) -> Path:
    """Write an astropy table (``fmt``: 'fits', 'ascii.csv', ...)."""
    with atomic_file(path) as tmp:
        table.write(tmp, format=fmt, overwrite=True)
    return Path(path)


def write_figure(figure, path: Path, **savefig) -> Path:
    """Save a matplotlib figure (the format from ``path``'s suffix)."""
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format=Path(path).suffix.lstrip("."), **savefig)
    return Path(path)
