"""Stage records and their identity (tile, field, image mode, arm).

Two ways in:

- from the workflow's manifest (:mod:`calmodel.report.manifest`): the identity is the
  manifest row's, nothing is inferred;
- from files and folders given on the command line (users with a results folder): each
  record's identity is, key by key, the first of
  1. ``meta.json`` beside the record (keys ``tile``, ``field``, ``mode``, ``arm``);
  2. what the record declares (image.json its field and mode, calibrate.json its arm,
     tile.json its tile);
  3. the path: the tile is the folder above the nearest stage folder, and each folder
     between the stage folder and the record reads as ``<field>_<mode>[_<arm>]``,
     ``<arm>`` or ``<mode>``; without a stage folder the record's folder reads that way
     and the tile is the folder above it (or, if it does not parse, that folder itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Iterable

from calmodel import CalmodelError
from calmodel.report.manifest import ManifestRow
from calmodel.core.io import read_json_object
from calmodel.report.vocabulary import ARMS, IDENTITY_KEYS, MODES, STAGE_OF_RECORD_FILE

# folder names that mark "the stage's folder" in a results tree
STAGE_FOLDERS = {"compare", "catalog", "catalogue", "catalogs", "image", "images", "imaging",
                 "characterize", "build_model", "build-model", "calibrate", "simulate", "tile"}


@dataclass
class Record:
    path: Path
    stage: str
    data: dict
    tile: str
    field: str | None = None
    mode: str | None = None
    arm: str | None = None
    identified_by: dict = dataclass_field(default_factory=dict)


# ---------------------------------------------------------------- from the manifest


def records_from_manifest(rows: list[ManifestRow], manifest: Path) -> list[Record]:
    """One Record per manifest row; a record that says it is another stage is an error."""
    records = []
    for row in rows:
        data = read_json_object(row.path)
        declared = data.get("stage")
        if isinstance(declared, str) and declared and declared != row.stage:
            raise CalmodelError(f"{manifest} line {row.line}, column 'stage': '{row.stage}', "
                                f"but {row.path} is a '{declared}' record")
        records.append(Record(path=row.path, stage=row.stage, data=data, tile=row.tile,
                              field=row.field, mode=row.mode, arm=row.arm,
                              identified_by={key: "manifest" for key in IDENTITY_KEYS
                                             if getattr(row, key) is not None}))
    return records


# ---------------------------------------------------------------- from folders


def discover(inputs: Iterable[Path]) -> list[Path]:
    """The stage record files named or found (recursively) under ``inputs``."""
    found: dict[Path, Path] = {}
    for item in map(Path, inputs):
        if not item.exists():
            raise CalmodelError(f"input not found: {item}")
        if item.is_file():
            if item.name not in STAGE_OF_RECORD_FILE:
                raise CalmodelError(f"{item}: not a stage record (expected one of "
                                    f"{', '.join(STAGE_OF_RECORD_FILE)}, or a folder)")
            candidates = [item]
        else:
            candidates = list(_records_under(item))
        for path in candidates:
            found.setdefault(path.resolve(), path)
    return sorted(found.values(), key=str)


def _records_under(folder: Path) -> Iterable[Path]:
    visited = set()
    # Nextflow stages inputs as symlinks: follow them, but not round a cycle.
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        # hidden names are unfinished atomic writes
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / f for f in sorted(files) if f in STAGE_OF_RECORD_FILE)


def _parse_folder_name(name: str) -> dict:
    """``<field>_<mode>[_<arm>]``, ``<arm>`` or ``<mode>`` -> the keys it names, else {}."""
    tokens = name.split("_")
    if len(tokens) == 1:
        word = name.lower()
        return {"arm": word} if word in ARMS else {"mode": word} if word in MODES else {}
    out: dict = {}
    if tokens[-1].lower() in ARMS and len(tokens) >= 3 and tokens[-2].lower() in MODES:
        out["arm"] = tokens.pop().lower()
    if tokens[-1].lower() in MODES:
        out["mode"] = tokens.pop().lower()
        out["field"] = "_".join(tokens)
    return out


def _identity_from_path(path: Path) -> dict:
    parts = path.parent.parts
    nearest_first = range(len(parts) - 1, max(0, len(parts) - 5) - 1, -1)
    stage_at = next((i for i in nearest_first if parts[i].lower() in STAGE_FOLDERS and i >= 1),
                    None)
    found: dict = {}
    if stage_at is not None:
        found["tile"] = parts[stage_at - 1]
        for name in parts[stage_at + 1:]:
            found.update(_parse_folder_name(name))
        return found
    parsed = _parse_folder_name(parts[-1]) if parts else {}
    found.update(parsed)
    if parsed and len(parts) >= 2:
        found["tile"] = parts[-2]
    elif parts:
        found["tile"] = parts[-1]
    return found


def _identity_declared(stage: str, data: dict) -> dict:
    params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    keys = {"image": ("field", "mode", "arm"), "calibrate": ("arm",)}.get(stage, ())
    out = {}
    for key in keys:
        value = data.get(key, params.get(key))
        if isinstance(value, str) and value:
            out[key] = value
    tile = data.get("tile")
    if stage == "simulate" and isinstance(tile, str) and tile and tile.lower() not in STAGE_FOLDERS:
        out["tile"] = tile
    return out


def _allowed_or_error(values: dict, by: dict, key: str, allowed, path: Path, label: str):
    value = values.get(key)
    if value is None:
        return None
    if value.lower() not in allowed:
        raise CalmodelError(f"{path}: {label} '{value}' (from {by[key]}) is not one of "
                            f"{', '.join(allowed)}")
    return value.lower()


def load_record(path: Path) -> Record:
    """Read one record found in a folder and decide its identity (module docstring)."""
    path = Path(path)
    data = read_json_object(path)
    stage = STAGE_OF_RECORD_FILE.get(path.name, str(data.get("stage", "")))
    meta_path = path.parent / "meta.json"
    meta = read_json_object(meta_path) if meta_path.is_file() else {}
    sources = [("meta.json", {k: meta[k] for k in IDENTITY_KEYS if meta.get(k) not in (None, "")}),
               ("record", _identity_declared(stage, data)), ("path", _identity_from_path(path))]
    values: dict = {}
    by: dict = {}
    for source, found in sources:
        for key in IDENTITY_KEYS:
            if key not in values and key in found:
                values[key] = str(found[key])
                by[key] = source
    mode = _allowed_or_error(values, by, "mode", MODES, path, "image mode")
    arm = _allowed_or_error(values, by, "arm", ARMS, path, "arm")
    if stage == "compare" and (mode is None or "field" not in values):
        raise CalmodelError(
            f"{path}: cannot tell its field and image mode; put it at "
            f"<tile>/compare/<field>_<mode>/compare.json, write a meta.json beside it with "
            f'{{"tile": ..., "field": ..., "mode": "ql"|"se"}}, or use --manifest')
    return Record(path=path, stage=stage, data=data, tile=values["tile"],
                  field=values.get("field"), mode=mode, arm=arm, identified_by=by)


def records_from_inputs(inputs: list[Path]) -> list[Record]:
    paths = discover(inputs)
    if not paths:
        raise CalmodelError(f"no stage records ({', '.join(STAGE_OF_RECORD_FILE)}) found under "
                            f"{', '.join(str(p) for p in inputs)}")
    return [load_record(p) for p in paths]
