"""The `report` stage: stage records -> report.json, tables.md and report.html."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.io import write_json, write_text
from calmodel.core.records import stage_record
from calmodel.core.sweep_points import read_points
from calmodel.report.assemble import build
from calmodel.report.criterion import VERDICTS, Criterion
from calmodel.report.figures import Figure, figures_for
from calmodel.report.manifest import read_manifest
from calmodel.report.records import Record, records_from_inputs, records_from_manifest
from calmodel.report.render import render_html, render_markdown
from calmodel.report.sweep_figure import sweep_figures
from calmodel.report.sweep_map import sweep_map, write_sweep_tables
from calmodel.report.tables import tables
from calmodel.report.values import get_in, number
from calmodel.report.vocabulary import DEFAULT_TITLE, MODES, SWEEP_DIR


@dataclass
class ReportResult:
    out: Path
    html: Path
    markdown: Path
    record: Path
    verdicts: dict[str, str]  # scope -> verdict; scopes are never pooled
    tiles: list[str]
    n_records: int


def _provenance(records: list[Record]) -> list[dict]:
    return [{"stage": r.stage, "tile": r.tile, "field": r.field, "mode": r.mode, "arm": r.arm,
             "path": str(r.path), "identified_by": r.identified_by,
             "calmodel_version": r.data.get("calmodel_version"),
             "elapsed_s": r.data.get("elapsed_s"), "parameters": r.data.get("parameters")}
            for r in records]


def _rule_threshold(tiles: dict) -> float | None:
    values = {number(get_in(t, "characterize", "threshold")) for t in tiles.values()} - {None}
    return values.pop() if len(values) == 1 else None


def _sweep(points_csv: Path, content: dict, criterion: Criterion, out: Path) -> list[Figure]:
    """The sweep's map into ``content`` and ``out``/sweep/; its figures for the page."""
    content["sweep"] = sweep_map(read_points(points_csv), content["tiles"], _rule_threshold(content["tiles"]))
    folder = out / SWEEP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    content["sweep"]["products"] = [str(p.relative_to(out)) for p in write_sweep_tables(content["sweep"], folder)]
    modes = [m for m in MODES if any(m in t["modes"] for t in content["tiles"].values())]
    drawn = sweep_figures(content["sweep"]["points"], modes, criterion.scope_ratio, folder)
    return [Figure("sweep", "sweep", None, None, path, caption) for path, caption in drawn]


def report(inputs: list[Path], out: Path, criterion: Criterion = Criterion(),
           title: str = DEFAULT_TITLE, manifest: Path | None = None,
           sweep_points: Path | None = None) -> ReportResult:
    """Judge the stage records listed in ``manifest`` (identity from the manifest), or found
    under ``inputs`` (identity from meta.json, the records, their paths); write
    ``out``/report.json, tables.md and report.html (and the map of a sweep, given its
    ``sweep_points``: points.csv of `calmodel sweep`)."""
    started = time.monotonic()
    out = Path(out)
    criterion.validate()
    if manifest is not None and inputs:
        raise CalmodelError("give either --manifest or INPUTS, not both")
    if manifest is not None:
        records = records_from_manifest(read_manifest(manifest), Path(manifest))
    elif inputs:
        records = records_from_inputs(list(inputs))
    else:
        raise CalmodelError("nothing to report: give --manifest FILE or INPUTS")
    content = build(records, criterion)
    provenance = _provenance(records)
    versions = sorted({str(p["calmodel_version"]) for p in provenance})
    if len(versions) > 1:
        content["warnings"].append(f"records from different calmodel versions: {', '.join(versions)}")
    out.mkdir(parents=True, exist_ok=True)
    figures = _sweep(sweep_points, content, criterion, out) if sweep_points is not None else []
    table_list = tables(content)
    figures += figures_for(records)
    headlines = content["headlines"]
    markdown = write_text(out / "tables.md", render_markdown(
        headlines, content["criterion"]["text"], table_list, title))
    page = write_text(out / "report.html", render_html(
        headlines, content["criterion"]["text"], content["warnings"], table_list, figures,
        provenance, len(content["tiles"]), title, VERDICTS))
    parameters = {"inputs": [str(p) for p in inputs], "manifest": str(manifest) if manifest else None,
                  "sweep_points": str(sweep_points) if sweep_points else None,
                  **criterion.parameters(), "title": title}
    results = {**content, "records": provenance,
               "figures": [{"path": str(f.path), "caption": f.caption} for f in figures],
               "products": {"html": page.name, "markdown": markdown.name}}
    record = write_json(out / "report.json", stage_record("report", parameters, results, started))
    verdicts = {scope: o["verdict"] for scope, o in content["overall"].items()}
    return ReportResult(out, page, markdown, record, verdicts, list(content["tiles"]), len(records))
