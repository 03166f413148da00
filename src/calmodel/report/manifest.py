"""Discovery from the manifest the workflow writes.

Format (agreed with the workflow): a CSV file whose header is exactly
``tile,field,mode,arm,stage,path`` and one row per stage record:

- ``tile``: required, the tile (execution block) the record belongs to;
- ``field``: the target field (required for image, catalog and compare), else may be empty;
- ``mode``: ``ql`` | ``se`` for image, catalog and compare records, else empty;
- ``arm``: ``model`` | ``nomodel`` for image, catalog and calibrate records, else empty;
- ``stage``: one of simulate, characterize, calibrate, build_model, image, catalog, compare;
- ``path``: the record JSON file, relative to the manifest's folder or absolute.

The identity of every record comes from its row, never from folder names. Every row is
checked before anything is read; the first bad one is a one-line error naming the
manifest, the line and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from calmodel import CalmodelError
from calmodel.report.vocabulary import ARMS, MODES, STAGES

HEADER = ("tile", "field", "mode", "arm", "stage", "path")
# which identity columns each stage's row must fill ("required") or leave empty ("empty");
# a column in neither set may be given or not
REQUIRED_COLUMNS = {
    "compare": {"field", "mode"}, "image": {"field", "mode", "arm"},
    "catalog": {"field", "mode", "arm"}, "calibrate": {"arm"},
    "simulate": set(), "characterize": set(), "build_model": set(),
}
EMPTY_COLUMNS = {
    "compare": {"arm"}, "image": set(), "catalog": set(), "calibrate": {"mode"},
    "simulate": {"mode", "arm"}, "characterize": {"mode", "arm"}, "build_model": {"mode", "arm"},
}
ALLOWED_VALUES = {"mode": MODES, "arm": ARMS, "stage": STAGES}


@dataclass(frozen=True)
class ManifestRow:
    line: int  # line number in the manifest (the header is line 1)
    tile: str
    field: str | None
    mode: str | None
    arm: str | None
    stage: str
    path: Path


def _checked_row(manifest: Path, line: int, raw: dict) -> ManifestRow:
    def fail(column: str, problem: str) -> CalmodelError:
        return CalmodelError(f"{manifest} line {line}, column '{column}': {problem}")

    values = {key: (raw.get(key) or "").strip() for key in HEADER}
    for column, allowed in ALLOWED_VALUES.items():
        if values[column] and values[column] not in allowed:
            raise fail(column, f"'{values[column]}' is not one of {', '.join(allowed)}")
    if not values["stage"]:
        raise fail("stage", f"empty (one of {', '.join(STAGES)})")
    if not values["tile"]:
        raise fail("tile", "empty")
    stage = values["stage"]
    for column in sorted(REQUIRED_COLUMNS[stage]):
        if not values[column]:
            raise fail(column, f"empty, but a {stage} record needs it")
    for column in sorted(EMPTY_COLUMNS[stage]):
        if values[column]:
            raise fail(column, f"'{values[column]}' given, but a {stage} record has no {column}")
    if not values["path"]:
        raise fail("path", "empty")
    path = Path(values["path"])
    if not path.is_absolute():
        path = manifest.parent / path
    if not path.is_file():
        raise fail("path", f"{path} does not exist")
    return ManifestRow(line=line, tile=values["tile"], field=values["field"] or None,
                       mode=values["mode"] or None, arm=values["arm"] or None, stage=stage,
                       path=path)


def read_manifest(manifest: Path) -> list[ManifestRow]:
    """Every row of ``manifest``, checked (module docstring)."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise CalmodelError(f"manifest not found: {manifest}")
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = tuple(name.strip() for name in reader.fieldnames or ())
        if header != HEADER:
            raise CalmodelError(f"{manifest} line 1: header must be '{','.join(HEADER)}', "
                                f"not '{','.join(header)}'")
        rows = []
        for raw in reader:
            if None in raw:  # more cells than columns
                raise CalmodelError(f"{manifest} line {reader.line_num}: more than "
                                    f"{len(HEADER)} cells")
            rows.append(_checked_row(manifest, reader.line_num, raw))
    if not rows:
        raise CalmodelError(f"{manifest}: no records listed")
    seen: dict[Path, int] = {}
    for row in rows:
        real = row.path.resolve()
        if real in seen:
            raise CalmodelError(f"{manifest} line {row.line}, column 'path': {row.path} is "
                                f"already listed on line {seen[real]}")
        seen[real] = row.line
    return rows
