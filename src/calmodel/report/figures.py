"""The PNG figures beside the compare, characterize and build-model records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calmodel.report.records import Record

FIGURE_STAGES = ("characterize", "build_model", "compare")
FIGURE_CAPTIONS = {
    "fluxes.png": "Total and peak flux with vs without model, and the histograms of their "
                  "differences with the fitted Gaussian (memo Figures 7/8)",
    "fluxes_fractional.png": "Fractional total and peak flux differences (model - nomodel) / "
                             "nomodel with the fitted Gaussian",
    "total_over_peak.png": "Total flux / peak flux of both arms, with the KS test (memo Figure 9)",
    "alpha.png": "Spectral index with vs without model and the histogram of the differences "
                 "(memo Figure 10)",
    "shapes.png": "Component major/minor axis and position angle, with vs without model",
    "truth.png": "Measured / true flux and measured - true spectral index, per arm",
    "selfcal_rounds.png": "Self-calibration rounds of the calibrator model (build-model)",
    "calibrator_image.png": "Image of the gain calibrator used as its model (build-model)",
}
AMP_UVDIST_SUFFIX = "_amp_uvdist.png"


@dataclass(frozen=True)
class Figure:
    tile: str
    stage: str
    field: str | None
    mode: str | None
    path: Path
    caption: str


def _caption(png: Path, stage: str) -> str:
    if png.name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[png.name]
    if png.name.endswith(AMP_UVDIST_SUFFIX):
        return (f"Normalised amplitude vs uv-distance of gain calibrator "
                f"{png.name[:-len(AMP_UVDIST_SUFFIX)]} (characterize)")
    return f"{png.stem} ({stage})"


def figures_for(records: list[Record]) -> list[Figure]:
    known = list(FIGURE_CAPTIONS)
    stage_order = {s: i for i, s in enumerate(FIGURE_STAGES)}
    chosen = sorted((r for r in records if r.stage in FIGURE_STAGES),
                    key=lambda r: (r.tile, stage_order[r.stage], r.mode or "", r.field or ""))
    figures = []
    for rec in chosen:
        pngs = sorted((p for p in rec.path.parent.glob("*.png") if not p.name.startswith(".")),
                      key=lambda p: (known.index(p.name) if p.name in known else len(known), p.name))
        where = " · ".join(x for x in (rec.tile, rec.field, (rec.mode or "").upper()) if x)
        figures += [Figure(rec.tile, rec.stage, rec.field, rec.mode, png,
                           f"{where}: {_caption(png, rec.stage)}") for png in pngs]
    return figures
