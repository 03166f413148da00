"""The JSON record every stage leaves beside its products."""

from __future__ import annotations

import time

from calmodel import __version__


def stage_record(stage: str, parameters: dict, results: dict, started: float) -> dict:
    """The common shape of a stage's JSON record."""
    return {
        "stage": stage,
        "calmodel_version": __version__,
        "parameters": parameters,
        "elapsed_s": round(time.monotonic() - started, 3),
        **results,
    }
