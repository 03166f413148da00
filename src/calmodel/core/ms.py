"""Reading the input of a stage: a measurement set folder or a UVFITS file.

Input checks, opening (a UVFITS file is imported into the stage's own folder), a copy
helper, and small read-only helpers over an MS: field names and ids, scan intents,
spectral windows, integration time, field position, uv extent, and the one rule that
picks a reference antenna. Nothing here ever writes beside, or into, the input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import CasaTaskError, casa_tools, run_task
from calmodel.core.constants import C_LIGHT, RAD_TO_ARCSEC
from calmodel.core.io import atomic_dir

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
    with atomic_dir(target) as tmp:
        tmp.rmdir()  # importuvfits refuses an existing folder
        try:
            run_task("importuvfits", f"on {path}", fitsfile=str(path), vis=str(tmp))
        except CasaTaskError as err:  # the file passed the checks: it is the input that is bad
            raise CalmodelError(str(err)) from err
        if not is_ms(tmp):
            raise CalmodelError(f"importuvfits wrote no measurement set from {path}")
    return target


def calibrator_rows(source: Path, dst: Path, fields: list[str]) -> Path:
    """A new MS ``dst`` of ``fields``' rows of ``source`` (DATA, flags kept), for solves that
    write MODEL_DATA, flags and CORRECTED_DATA without touching the input or copying all of
    it. The input's field and spw IDs are kept, so tables solved on ``dst`` apply to it."""
    run_task("mstransform", "the calibrators' rows", vis=str(source), outputvis=str(dst), field=",".join(fields),
             datacolumn="data", reindex=False, keepflags=True)
    return Path(dst)


def _unreadable(path: Path, err: Exception) -> CalmodelError:
    first = (str(err).splitlines() or [type(err).__name__])[0].strip()
    return CalmodelError(f"cannot read table {path}: {first} (a truncated or corrupt input?)")


def _open(tb, path: Path, **kwargs) -> None:
    """Open a casacore table; a broken table (truncated, corrupt) is bad input, not a crash."""
    try:
        tb.open(str(path), **kwargs)
    except RuntimeError as err:  # casacore's IO errors arrive as bare RuntimeError
        raise _unreadable(path, err) from err


def _msmd(ms: Path):
    md = casa_tools().tools.msmetadata()
    try:
        opened = md.open(str(ms))
    except RuntimeError as err:  # e.g. "FilebufIO::readBlock - incorrect number of bytes read"
        raise _unreadable(ms, err) from err
    if not opened:
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


@dataclass(frozen=True)
class Scan:
    number: int
    field: str
    start_s: float  # MJD seconds of the first integration
    duration_s: float  # last minus first integration time (0 for a single dump)


def scans(ms: Path) -> list[Scan]:
    """The scans of ``ms`` in time order (a scan with several fields counts once per field)."""
    md = _msmd(ms)
    try:
        names = list(md.fieldnames())
        out = []
        for number in md.scannumbers():
            times = np.asarray(md.timesforscan(int(number)), dtype=float)
            for fid in md.fieldsforscan(int(number)):
                out.append(Scan(int(number), str(names[int(fid)]), float(times.min()),
                                float(times.max() - times.min())))
        return sorted(out, key=lambda scan: (scan.start_s, scan.number))
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


def field_ids(ms: Path, field: str, label: Path | None = None) -> list[int]:
    """Ids of the fields named ``field`` (an MS may repeat a name), or a CalmodelError
    naming ``label`` (default: ``ms``) and the fields it has."""
    names = field_names(ms)
    ids = [i for i, n in enumerate(names) if n == field]
    if not ids:
        raise CalmodelError(f"field '{field}' not in {label or ms} (fields: {', '.join(names) or 'none'})")
    return ids


def integration_time(ms: Path) -> float:
    """The median INTERVAL of the main table (seconds)."""
    tb = casa_tools().tools.table()
    _open(tb, ms)
    exposure = float(np.median(tb.getcol("INTERVAL")))
    tb.close()
    return exposure


def field_position(ms: Path, name: str) -> tuple[float, float]:
    """(ra, dec) in degrees of the phase centre of field ``name``."""
    tb = casa_tools().tools.table()
    _open(tb, ms / "FIELD")
    names = list(tb.getcol("NAME"))
    direction = tb.getcol("PHASE_DIR")[:, 0, names.index(name)]
    tb.close()
    return float(np.degrees(direction[0]) % 360.0), float(np.degrees(direction[1]))


def field_positions_j2000(ms: Path) -> dict[str, tuple[float, float]]:
    """Field name -> (ra, dec) in degrees of its phase centre in J2000, converted with the
    measures tool when the FIELD table is in another frame (e.g. B1950_VLA from an old
    UVFITS file)."""
    tools = casa_tools().tools
    tb = tools.table()
    _open(tb, ms / "FIELD")
    try:
        names = list(tb.getcol("NAME"))
        directions = tb.getcol("PHASE_DIR")[:, 0, :]
        frame = tb.getcolkeyword("PHASE_DIR", "MEASINFO").get("Ref", "J2000")
    finally:
        tb.close()
    positions: dict[str, tuple[float, float]] = {}
    me = tools.measures() if frame != "J2000" else None
    for i, name in enumerate(names):
        lon, lat = float(directions[0, i]), float(directions[1, i])
        if me is not None:
            converted = me.measure(me.direction(frame, f"{lon}rad", f"{lat}rad"), "J2000")
            lon, lat = converted["m0"]["value"], converted["m1"]["value"]
        positions.setdefault(name, (float(np.degrees(lon) % 360.0), float(np.degrees(lat))))
    if me is not None:
        me.done()
    return positions


def longest_antenna_separation(ms: Path) -> float:
    """Metres between the two most distant antennas of the ANTENNA table."""
    tb = casa_tools().tools.table()
    _open(tb, ms / "ANTENNA")
    try:
        positions = tb.getcol("POSITION").T  # (antenna, xyz)
    finally:
        tb.close()
    diff = positions[:, None, :] - positions[None, :, :]
    return float(np.sqrt((diff ** 2).sum(axis=-1)).max())


def data_column(ms: Path) -> str:
    """'corrected' if the MS has a CORRECTED_DATA column, else 'data'."""
    tb = casa_tools().tools.table()
    _open(tb, ms)
    try:
        columns = tb.colnames()
    finally:
        tb.close()
    return "corrected" if "CORRECTED_DATA" in columns else "data"


def check_column_has_data(ms: Path, column: str, ids: list[int], field: str,
                          label: Path | None = None) -> None:
    """A CalmodelError naming the column and field when the field has no unflagged, non-zero,
    finite visibility in ``column`` ('data' or 'corrected'): imaging it would give an all-zero
    image that looks like a result (e.g. an empty CORRECTED_DATA of an uncalibrated MS), and
    calibrating on it ends in CASA's "Error in Calibrater::fluxscale." (NaN > 0 is false)."""
    name = {"data": "DATA", "corrected": "CORRECTED_DATA"}.get(column, column)
    tb = casa_tools().tools.table()
    _open(tb, ms)
    try:
        selection = ",".join(str(i) for i in ids)
        sel = tb.query(f"FIELD_ID IN [{selection}] && !FLAG_ROW && any(!FLAG && abs({name}) > 0)",
                       columns="FIELD_ID")
        n = sel.nrows()
        sel.close()
    finally:
        tb.close()
    if n == 0:
        hint = " (an uncalibrated MS? calibrate it first)" if name == "CORRECTED_DATA" else ""
        raise CalmodelError(f"column {name} of field '{field}' in {label or ms} is all zero, NaN or "
                            f"flagged: no usable visibilities{hint}")


@dataclass(frozen=True)
class UvExtent:
    max_baseline_m: float
    max_freq_hz: float
    n_unflagged_rows: int

    @property
    def lambda_min_m(self) -> float:
        return C_LIGHT / self.max_freq_hz

    @property
    def finest_fringe_arcsec(self) -> float:
        """lambda_min / B_max: the finest fringe spacing in the data."""
        return self.lambda_min_m / self.max_baseline_m * RAD_TO_ARCSEC


def uv_extent(ms: Path, ids: list[int]) -> UvExtent:
    """Longest projected baseline and highest frequency among the fields' unflagged rows."""
    tools = casa_tools().tools
    tb = tools.table()
    _open(tb, ms / "DATA_DESCRIPTION")
    dd_spw = tb.getcol("SPECTRAL_WINDOW_ID")
    tb.close()
    _open(tb, ms / "SPECTRAL_WINDOW")
    spw_max = [float(np.max(tb.getcell("CHAN_FREQ", i))) for i in range(tb.nrows())]
    tb.close()
    _open(tb, ms)
    try:
        selection = ",".join(str(i) for i in ids)
        sel = tb.query(f"FIELD_ID IN [{selection}] && !FLAG_ROW && any(!FLAG)", columns="UVW,DATA_DESC_ID")
        try:
            n = sel.nrows()
            if n == 0:
                return UvExtent(0.0, 0.0, 0)
            uvw = sel.getcol("UVW")
            dds = np.unique(sel.getcol("DATA_DESC_ID"))
        finally:
            sel.close()
    finally:
        tb.close()
    max_baseline = float(np.max(np.hypot(uvw[0], uvw[1])))
    max_freq = max(spw_max[int(dd_spw[d])] for d in dds)
    return UvExtent(max_baseline, max_freq, int(n))


# The calibration stages take the reference antenna among the well-populated antennas of
# their calibrators; imaging's self-calibration (which sees one target field, all rows
# alike) has always taken it among every antenna present in the MS.
CALIBRATION_REFANT_MIN_ROWS = 0.9


def reference_antenna(ms: Path, fields: list[str] | None = None,
                      min_rows_fraction: float = CALIBRATION_REFANT_MIN_ROWS,
                      unflagged_only: bool = True) -> str:
    """The one reference-antenna rule: the antenna nearest the median position of the
    antennas with data (on ``fields``; every field if None), among those with at least
    ``min_rows_fraction`` of the best antenna's rows.

    Rows counted: cross-correlations with FLAG_ROW unset (``unflagged_only``), or every
    row (autocorrelations and flagged rows too), as imaging's self-calibration always has.
    """
    tb = casa_tools().tools.table()
    conditions = ["ANTENNA1 != ANTENNA2 && !FLAG_ROW"] if unflagged_only else []
    if fields is not None:
        names = field_names(ms)
        conditions.insert(0, f"FIELD_ID IN {[names.index(f) for f in fields]}")
    _open(tb, ms)
    try:
        sub = tb.query(" && ".join(conditions), columns="ANTENNA1,ANTENNA2") if conditions else tb
        ants = np.concatenate([sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2")])
        if conditions:
            sub.close()
    finally:
        tb.close()
    if ants.size == 0:
        where = ", ".join(fields) if fields is not None else "any field"
        raise CalmodelError(f"no unflagged cross-correlations for {where} in {ms}")
    _open(tb, ms / "ANTENNA")
    try:
        pos, names = tb.getcol("POSITION").T, list(tb.getcol("NAME"))
    finally:
        tb.close()
    counts = np.bincount(ants, minlength=len(names))
    present = np.flatnonzero(counts > 0)
    good = present[counts[present] >= min_rows_fraction * counts.max()]
    centre = np.median(pos[present], axis=0)
    best = good[np.argmin(np.linalg.norm(pos[good] - centre, axis=1))]
    return str(names[best])
