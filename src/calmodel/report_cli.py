"""`calmodel report`: the click command of the report stage (kept beside report.py until
the report becomes a package; options from report.Criterion)."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.core.options import setting, settings_from
from calmodel.report import Criterion as C


@click.command("report")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: report.html, tables.md, report.json.")
@setting(C, "flux_threshold",
         help="Practical threshold on a fractional flux offset (0.03 = 3%: a survey's "
              "flux-scale uncertainty; set it to yours).")
@setting(C, "alpha_threshold", help="Practical threshold on the spectral index offset.")
@setting(C, "nsigma", help="An offset counts only beyond this many times its uncertainty too.")
@setting(C, "rms_fraction", help="A flux offset counts only beyond this fraction of the image RMS too.")
@click.option("--title", default="calmodel report: does a calibrator model change the science?",
              show_default=True, help="Title of the HTML page and tables.md.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(out: Path, title: str, inputs: tuple[Path, ...], **params) -> None:
    """Per-tile and overall tables (memo Tables 2/3), verdict and one HTML page from the
    stage records (compare.json, image.json, ...) found under INPUTS (files or folders)."""
    from calmodel.report import report

    result = report(list(inputs), out, settings_from(C, params), title=title)
    click.echo(f"report: {result.verdict} ({len(result.tiles)} tiles, {result.n_records} records) "
               f"-> {result.html}")
