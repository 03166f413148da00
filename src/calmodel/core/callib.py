"""CASA cal libraries: applycal's instructions as a file, so that `mstransform` applies the
calibration while it writes its output (one pass over the data, and the input untouched).

A line per caltable and data selection, as CASA's own `applycaltocallib` writes them:
``field`` selects the MS rows the line applies to, ``fldmap`` the caltable's fields to use
(applycal's ``gainfield``; empty = all fields), ``tinterp`` its time interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.io import write_text

# The library's values are single-quoted strings; these would end or split a line.
_UNSAFE = ("'", "\n", "\r")


@dataclass(frozen=True)
class Apply:
    """Apply ``caltable`` to the MS fields ``fields``, as applycal would with these."""
    caltable: str
    fields: str
    tinterp: str = "linear"
    fldmap: str = ""


def _quoted(value: str, what: str) -> str:
    if any(char in value for char in _UNSAFE):
        raise CalmodelError(f"{what} {value!r} cannot go into a CASA cal library (it has a quote or line break)")
    return f"'{value}'"


def write_cal_library(path: Path, applies: list[Apply], n_spw: int) -> Path:
    """Write the library; every table maps each spw to itself (CASA assumes so otherwise,
    but its parser then rejects the missing map)."""
    spwmap = "[" + ",".join(str(spw) for spw in range(n_spw)) + "]"
    lines = []
    for apply in applies:
        if not apply.fields:  # an empty selection would apply the table to every field
            raise CalmodelError(f"a cal library line for {apply.caltable} names no fields to apply it to")
        line = (f"caltable={_quoted(apply.caltable, 'caltable')} calwt=False "
                f"field={_quoted(apply.fields, 'field selection')} tinterp={_quoted(apply.tinterp, 'tinterp')}")
        if apply.fldmap:
            line += f" fldmap={_quoted(apply.fldmap, 'field')}"
        lines.append(f"{line} spwmap={spwmap}")
    return write_text(Path(path), "\n".join(lines) + "\n")
