"""The `calmodel report` command: options -> :func:`calmodel.report.stage.report`.
The defaults are the Criterion's (their sources: calmodel.report.criterion.SOURCES)."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.core.options import setting, settings_from
from calmodel.core.outputs import stage_output
from calmodel.report.criterion import Criterion
from calmodel.report.vocabulary import DEFAULT_TITLE, SWEEP_DIR


@click.command("report")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: report.html, tables.md, report.json.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV written by the workflow (tile,field,mode,arm,stage,path): the records "
                   "to read and who they belong to. Replaces INPUTS.")
@click.option("--sweep", "sweep_points", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="points.csv of `calmodel sweep`: add the sweep's map (heat maps, every grid point, "
                   "the 3% rule scored) to the report, in OUT/sweep/.")
@setting(Criterion, "flux_threshold",
         help="Tolerance on a fractional flux offset (VLASS SE flux calibration accuracy).")
@setting(Criterion, "alpha_threshold",
         help="Tolerance on the spectral index offset (memo: alpha error ~0.2).")
@setting(Criterion, "nsigma", help="Detected: beyond this many times its uncertainty.")
@setting(Criterion, "rms_fraction",
         help="Tolerance on a flux offset in units of the image RMS (the memo's yardstick).")
@setting(Criterion, "rms_ratio_threshold", help="Tolerance on |model/nomodel image RMS - 1|.")
@setting(Criterion, "min_components", help="Fewer components in a fit: insufficient data.")
@setting(Criterion, "scope_ratio",
         help="In the memo's scope: calibrator core > this x the next component.")
@click.option("--title", default=DEFAULT_TITLE, show_default=True,
              help="Title of the HTML page and tables.md.")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
def report_command(out: Path, manifest: Path | None, sweep_points: Path | None, title: str,
                   inputs: tuple[Path, ...], **criterion_params) -> None:
    """Per-tile and overall tables (memo Tables 2/3), verdict and one HTML page from the stage
    records listed in --manifest, or found under INPUTS (files or folders)."""
    # The stage is imported here, as every command does: its astropy imports cost ~1.4 s,
    # which every other calmodel command would otherwise pay at start-up.
    from calmodel.report.stage import report

    criterion = settings_from(Criterion, criterion_params)
    # INPUTS are folders searched for records (the report may sit beside them); only the
    # manifest is an input file the report must not be written into.
    with stage_output(out, "report.json", inputs=(manifest, sweep_points),
                      products=("report.html", "tables.md", SWEEP_DIR)):
        result = report(list(inputs), out, criterion, title=title, manifest=manifest,
                        sweep_points=sweep_points)
    verdicts = "; ".join(f"{scope}: {verdict}" for scope, verdict in result.verdicts.items())
    click.echo(f"report: {verdicts} ({len(result.tiles)} tiles, {result.n_records} records) "
               f"-> {result.html}")
