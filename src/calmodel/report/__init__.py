"""The `report` stage as a package: discovery (manifest, records), statistics (summaries,
combine), the criterion and the verdict, tables and rendering, the stage and its command.
See docs/report.md.

The names below are imported on first use (PEP 562): `calmodel report`'s command is
registered in every `calmodel` start-up, and the stage's astropy imports would add ~1.4 s
to each of them."""

from __future__ import annotations

import importlib

_HOME = {"Criterion": "criterion", "ReportResult": "stage", "combine_fits": "combine",
         "discover": "records", "load_record": "records", "read_manifest": "manifest",
         "report": "stage"}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
