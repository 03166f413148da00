"""Opening the input of a stage: a measurement set folder or a UVFITS file.

Small read-only helpers over an MS (field names, intents, spectral windows) and a
copy helper. Nothing here ever writes beside, or into, the input.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.casa import casa_tools
from calmodel.records import atomic_dir

UVFITS_SUFFIXES = (".fits", ".uvfits", ".uvf")


@dataclass(frozen=True)
class SpwInfo:
    spw: int
    reffreq_hz: float
    chan_freqs_hz: np.ndarray


def is_ms(path: Path) -> bool:
    """A measurement set folder: a casacore table whose table.info names the MS type."""
    info = Path(path) / "table.info"
    if not (Path(path).is_dir() and (Path(path) / "table.dat").is_file() and info.is_file()):
        return False
    first = (info.read_text(errors="replace").splitlines() or [""])[0]
    return "measurement set" in first.lower()


def _is_uvfits(path: Path) -> bool:
    """A FITS file whose primary header declares random groups (GROUPS = T)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(2880 * 4)
    except OSError as err:
        raise CalmodelError(f"cannot read {path}: {err.strerror}") from err
    if not header.startswith(b"SIMPLE  ="):
        return False
    cards = [header[i:i + 80].decode("ascii", "replace") for i in range(0, len(header), 80)]
    for card in cards:
        if card.startswith("GROUPS  ="):
            return card[10:].split("/")[0].strip() == "T"
        if card.startswith("END     ") or card.rstrip() == "END":
            break
    return False


def check_input(path: Path) -> str:
    """'ms' or 'uvfits' for a usable input, else a CalmodelError naming ``path``."""
    path = Path(path)
    if not path.exists():
        # A dangling link (e.g. staged by Nextflow) names the file the user gave.
        target = f" (a link to {os.readlink(path)})" if path.is_symlink() else ""
        raise CalmodelError(f"input not found: {path}{target}")
    if path.is_dir():
        if is_ms(path):
            return "ms"
        raise CalmodelError(f"not a measurement set (no MS table.info): {path}")
    if path.suffix.lower() not in UVFITS_SUFFIXES or not _is_uvfits(path):
        raise CalmodelError(
            f"not a measurement set or a UVFITS file (random-groups FITS, "
            f"{'/'.join(UVFITS_SUFFIXES)}): {path}")
    return "uvfits"


def open_input(path: Path, workdir: Path) -> Path:
    """The MS to read for ``path``: the MS itself, or ``workdir/<stem>.ms`` imported
    from a UVFITS file (re-used if already imported there). Never writes beside ``path``."""
    path = Path(path)
    if check_input(path) == "ms":
        return path
    target = Path(workdir) / f"{path.stem}.ms"
    if is_ms(target):
        return target
    tasks = casa_tools().tasks
    with atomic_dir(target) as tmp:
        tmp.rmdir()  # importuvfits refuses an existing folder
        try:
            tasks.importuvfits(fitsfile=str(path), vis=str(tmp))
        except Exception as err:  # CASA raises bare RuntimeError/AssertionError
            raise CalmodelError(f"importuvfits failed on {path}: {err}") from err
        if not is_ms(tmp):
            raise CalmodelError(f"importuvfits wrote no measurement set from {path}")
    return target


def copy_ms(src: Path, dst: Path) -> Path:
    """Copy the MS folder ``src`` to the new folder ``dst`` (which must not exist)."""
    if Path(dst).exists():
        raise CalmodelError(f"refusing to overwrite existing folder: {dst}")
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def _msmd(ms: Path):
    md = casa_tools().tools.msmetadata()
    if not md.open(str(ms)):
        raise CalmodelError(f"cannot open measurement set: {ms}")
    return md


def field_names(ms: Path) -> list[str]:
    md = _msmd(ms)
    try:
        return [str(name) for name in md.fieldnames()]
    finally:
        md.close()


def fields_by_intent(ms: Path) -> dict[str, list[str]]:
    """Scan intent (OBS_MODE without its '#sub-mode', e.g. 'CALIBRATE_PHASE') -> field names
    observed with it, in field order. Empty when the MS has no intents (e.g. from UVFITS)."""
    md = _msmd(ms)
    try:
        names = list(md.fieldnames())
        out: dict[str, list[str]] = {}
        for mode in md.intents():
            ids = md.fieldsforintent(mode)
            for intent in (part.split("#")[0] for part in str(mode).split(",")):
                if intent:
                    seen = out.setdefault(intent, [])
                    seen.extend(names[i] for i in sorted(ids) if names[i] not in seen)
        return {k: sorted(v, key=names.index) for k, v in out.items()}
    finally:
        md.close()


def fields_with_intent(ms: Path, substring: str) -> list[str]:
    """Fields observed with any intent containing ``substring`` (e.g. 'CALIBRATE_PHASE')."""
    found: list[str] = []
    for intent, fields in fields_by_intent(ms).items():
        if substring in intent:
            found.extend(f for f in fields if f not in found)
    return found


def spw_info(ms: Path) -> list[SpwInfo]:
    md = _msmd(ms)
    try:
        return [SpwInfo(spw=i, reffreq_hz=float(md.reffreq(i)["m0"]["value"]),
                        chan_freqs_hz=np.asarray(md.chanfreqs(i), dtype=float))
                for i in range(md.nspw())]
    finally:
        md.close()


def pick_refant(ms: Path, fields: list[str]) -> str:
    """The antenna nearest the median position of the antennas with data on ``fields``,
    among those with at least 90% of the best antenna's unflagged rows."""
    tb = casa_tools().tools.table()
    ids = [field_names(ms).index(f) for f in fields]
    tb.open(str(ms))
    try:
        sub = tb.query(f"FIELD_ID IN {ids} && ANTENNA1 != ANTENNA2 && !FLAG_ROW",
                       columns="ANTENNA1,ANTENNA2")
        ants = np.concatenate([sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2")])
        sub.close()
    finally:
        tb.close()
    if ants.size == 0:
        raise CalmodelError(f"no unflagged cross-correlations for {', '.join(fields)} in {ms}")
    tb.open(str(ms / "ANTENNA"))
    try:
        pos, names = tb.getcol("POSITION").T, list(tb.getcol("NAME"))
    finally:
        tb.close()
    counts = np.bincount(ants, minlength=len(names))
    present = np.flatnonzero(counts > 0)
    good = present[counts[present] >= 0.9 * counts.max()]
    centre = np.median(pos[present], axis=0)
    best = good[np.argmin(np.linalg.norm(pos[good] - centre, axis=1))]
    return str(names[best])
