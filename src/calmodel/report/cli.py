"""The `calmodel report` command: options -> :func:`calmodel.report.stage.report`."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.report.criterion import Criterion
from calmodel.report.stage import DEFAULT_TITLE, report

DEFAULTS = Criterion()


@click.command("report")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: report.html, tables.md, report.json.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV written by the workflow (tile,field,mode,arm,stage,path): the records "
                   "to read and who they belong to. Replaces INPUTS.")
@click.option("--flux-threshold", default=DEFAULTS.flux_threshold, show_default=True, type=float,
              help="Practical threshold on a fractional flux offset.")
@click.option("--alpha-threshold", default=DEFAULTS.alpha_threshold, show_default=True,
              type=float, help="Practical threshold on the spectral index offset.")
@click.option("--nsigma", default=DEFAULTS.nsigma, show_default=True, type=float,
              help="An offset counts only beyond this many times its uncertainty too.")
@click.option("--rms-fraction", default=DEFAULTS.rms_fraction, show_default=True, type=float,
              help="A flux offset counts only beyond this fraction of the image RMS too.")
@click.option("--title", default=DEFAULT_TITLE, show_default=True,
              help="Title of the HTML page and tables.md.")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
def report_command(out: Path, manifest: Path | None, flux_threshold: float, alpha_threshold: float,
                   nsigma: float, rms_fraction: float, title: str, inputs: tuple[Path, ...]) -> None:
    """Per-tile and overall tables (memo Tables 2/3), verdict and one HTML page from the stage
    records listed in --manifest, or found under INPUTS (files or folders)."""
    criterion = Criterion(nsigma=nsigma, flux_threshold=flux_threshold,
                          alpha_threshold=alpha_threshold, rms_fraction=rms_fraction)
    result = report(list(inputs), out, criterion, title=title, manifest=manifest)
    click.echo(f"report: {result.verdict} ({len(result.tiles)} tiles, {result.n_records} records) "
               f"-> {result.html}")
