"""The `calmodel` command line: thin click commands over the stage functions.

Each command parses options, calls one stage function and writes its outputs.
Errors the user can act on (:class:`calmodel.CalmodelError`) become one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from calmodel import CalmodelError, __version__


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CalmodelError as err:
            click.echo(f"calmodel: error: {err}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="calmodel")
def main() -> None:
    """Decide, with numbers, whether a survey must calibrate with a spatial model
    of a resolved gain calibrator (VLASS Memo 19)."""


@main.command("env")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON to this file.")
@click.option("--no-nextflow", is_flag=True,
              help="Do not require Nextflow (inside a pipeline task or container).")
def env_command(json_path: Path | None, no_nextflow: bool) -> None:
    """Versions of calmodel, CASA, PyBDSF, astropy, numpy, Nextflow and the measures path."""
    from calmodel.env import collect
    from calmodel.records import write_json

    report = collect(check_nextflow=not no_nextflow)
    for name, version in report.versions.items():
        click.echo(f"{name:10s} {version}")
    click.echo(f"{'measures':10s} {report.measures_path or '-'}")
    if json_path is not None:
        write_json(json_path, {"calmodel_version": __version__, **asdict(report)})
    if report.missing:
        raise CalmodelError("missing: " + "; ".join(report.missing))


if __name__ == "__main__":
    main()
