"""The `calmodel report` command: options -> :func:`calmodel.report.stage.report`.
The defaults are the Criterion's (their sources: calmodel.report.criterion.SOURCES)."""

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
              help="Tolerance on a fractional flux offset (VLASS SE flux calibration accuracy).")
@click.option("--alpha-threshold", default=DEFAULTS.alpha_threshold, show_default=True,
              type=float, help="Tolerance on the spectral index offset (memo: alpha error ~0.2).")
@click.option("--nsigma", default=DEFAULTS.nsigma, show_default=True, type=float,
              help="Detected: beyond this many times its uncertainty.")
@click.option("--rms-fraction", default=DEFAULTS.rms_fraction, show_default=True, type=float,
              help="Tolerance on a flux offset in units of the image RMS (the memo's yardstick).")
@click.option("--rms-ratio-threshold", default=DEFAULTS.rms_ratio_threshold, show_default=True,
              type=float, help="Tolerance on |model/nomodel image RMS - 1|.")
@click.option("--min-components", default=DEFAULTS.min_components, show_default=True, type=int,
              help="Fewer components in a fit: insufficient data.")
@click.option("--scope-ratio", default=DEFAULTS.scope_ratio, show_default=True, type=float,
              help="In the memo's scope: calibrator core > this x the next component.")
@click.option("--title", default=DEFAULT_TITLE, show_default=True,
              help="Title of the HTML page and tables.md.")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
def report_command(out: Path, manifest: Path | None, flux_threshold: float, alpha_threshold: float,
                   nsigma: float, rms_fraction: float, rms_ratio_threshold: float,
                   min_components: int, scope_ratio: float, title: str,
                   inputs: tuple[Path, ...]) -> None:
    """Per-tile and overall tables (memo Tables 2/3), verdict and one HTML page from the stage
    records listed in --manifest, or found under INPUTS (files or folders)."""
    criterion = Criterion(nsigma=nsigma, flux_threshold=flux_threshold, rms_fraction=rms_fraction,
                          alpha_threshold=alpha_threshold, rms_ratio_threshold=rms_ratio_threshold,
                          min_components=min_components, scope_ratio=scope_ratio)
    result = report(list(inputs), out, criterion, title=title, manifest=manifest)
    verdicts = "; ".join(f"{scope}: {verdict}" for scope, verdict in result.verdicts.items())
    click.echo(f"report: {verdicts} ({len(result.tiles)} tiles, {result.n_records} records) "
               f"-> {result.html}")
