"""Writing products atomically, and the JSON record every stage leaves beside them."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from calmodel import __version__


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


def write_json(path: Path, payload: dict) -> Path:
    """Write ``payload`` to ``path`` through a temporary file and a rename."""
    payload = _finite_or_none(payload)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, default=_jsonable, allow_nan=False)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; products are shared (Nextflow, other users)
    os.replace(tmp, path)
    return path


def stage_record(stage: str, parameters: dict, results: dict, started: float) -> dict:
    """The common shape of a stage's JSON record."""
    return {
        "stage": stage,
        "calmodel_version": __version__,
        "parameters": parameters,
        "elapsed_s": round(time.monotonic() - started, 3),
        **results,
    }


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
    os.replace(tmp, final)
