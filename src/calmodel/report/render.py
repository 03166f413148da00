"""tables.md and report.html. The page is rendered from templates/report.html.j2 with
autoescape on: no HTML is assembled from strings here, only plain values are passed in."""

from __future__ import annotations

import base64
import json

from jinja2 import Environment, PackageLoader, StrictUndefined

from calmodel import __version__
from calmodel.report.figures import Figure
from calmodel.report.formatting import fmt_number
from calmodel.report.tables import Table

# words in a header whose cells the page breaks into lines (mean, then the spread)
STACKED_HEADER_WORDS = ("offset", "/ image rms", "flux ratio", "error measured", "centre", "ratio")
NO_BREAK_PLUS_MINUS = "\u00a0±\u00a0"


def _environment() -> Environment:
    return Environment(loader=PackageLoader("calmodel.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


# ---------------------------------------------------------------- markdown


def _markdown_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(headlines: list[dict], criterion_text: str, table_list: list[Table],
                    title: str) -> str:
    lines = [f"# {title}", ""]
    for headline in headlines:
        lines += [f"**{headline['label']} verdict: {headline['verdict']}**", ""]
    lines += [f"Criterion: {criterion_text}", ""]
    for table in table_list:
        lines += [f"## {table.title}", "",
                  "| " + " | ".join(map(_markdown_cell, table.header)) + " |",
                  "|" + "|".join("---" for _ in table.header) + "|"]
        lines += ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in table.rows]
        if table.note:
            lines += ["", table.note]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML


def _stacked_lines(text: str) -> list[dict]:
    """'mean ± err (sigma); other [sample]' -> lines: the first parenthesis (the spread)
    is a secondary line up to the next break; '; ' and ' [' start new lines."""
    lines: list[dict] = []
    spread_shown = False
    for segment in text.split("; "):
        pieces = [segment]
        if not spread_shown and " (" in segment:
            head, tail = segment.split(" (", 1)
            pieces = [head, "(" + tail]
        for i, piece in enumerate(pieces):
            secondary = i == 1
            spread_shown = spread_shown or secondary
            for j, part in enumerate(piece.split(" [")):
                lines.append({"text": part if j == 0 else "[" + part,
                              "secondary": secondary and j == 0})
    return lines


def _html_rows(table: Table, verdicts: tuple[str, ...]) -> list[dict]:
    stacked = {i for i, h in enumerate(table.header)
               if any(w in h.lower() for w in STACKED_HEADER_WORDS)}
    rows = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            text = str(cell)
            if text in verdicts:
                cells.append({"verdict": text})
                continue
            lines = _stacked_lines(text) if i in stacked else [{"text": text, "secondary": False}]
            for line in lines:
                line["text"] = line["text"].replace(" ± ", NO_BREAK_PLUS_MINUS)
            cells.append({"verdict": None, "lines": lines,
                          "numeric": i > 0 and any(ch.isdigit() for ch in text)})
        rows.append({"overall": bool(row) and str(row[0]).startswith("Overall"), "cells": cells})
    return rows


def _html_table(table: Table, verdicts: tuple[str, ...]) -> dict:
    return {"title": table.title, "header": table.header, "rows": _html_rows(table, verdicts),
            "note": table.note}


def _provenance_table(provenance: list[dict]) -> Table:
    header = ["Stage", "Tile", "Field", "Mode", "Arm", "calmodel", "Elapsed (s)", "Identified by",
              "Record"]
    rows = [[p["stage"], p["tile"], p["field"] or "–", (p["mode"] or "–").upper(), p["arm"] or "–",
             str(p["calmodel_version"]), fmt_number(p["elapsed_s"], ".1f"),
             ", ".join(f"{k}: {v}" for k, v in p["identified_by"].items()), p["path"]]
            for p in provenance]
    return Table("Stage records", header, rows)


def render_html(headlines: list[dict], criterion_text: str, warnings: list[str],
                table_list: list[Table], figures: list[Figure], provenance: list[dict],
                n_tiles: int, title: str, verdicts: tuple[str, ...]) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title, version=__version__, n_tiles=n_tiles, n_records=len(provenance),
        headlines=headlines, criterion_text=criterion_text, warnings=warnings,
        tables=[_html_table(t, verdicts) for t in table_list],
        figures=[{"tile": f.tile, "caption": f.caption, "name": f.path.name,
                  "data_uri": "data:image/png;base64,"
                              + base64.b64encode(f.path.read_bytes()).decode("ascii")}
                 for f in figures],
        record_versions=", ".join(sorted({str(p["calmodel_version"]) for p in provenance})),
        provenance_table=_html_table(_provenance_table(provenance), verdicts),
        provenance=[{**p, "parameters_json": json.dumps(p["parameters"], indent=1, default=str)}
                    for p in provenance])
