"""`calmodel sweep`: a sweep description (YAML) -> a samplesheet of simulated tiles, one per
grid point, and points.csv for the report's map (simulate.sweep; docs/sweep.md)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sweep")
@click.option("--sweep", "sweep_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Sweep description (YAML): grid of flux ratio x separation (x secondary alpha, "
                   "number of secondaries, seeds) and the per-point size.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: samplesheet.csv, configs/<tile>.yaml, points.csv, sweep.json.")
def command(sweep_file: Path, out: Path) -> None:
    """Expand a calibrator-structure sweep into simulated tiles (one per grid point)."""
    from calmodel.core.outputs import stage_output
    from calmodel.simulate.sweep import expand_sweep

    with stage_output(out, "sweep.json", inputs=(sweep_file,), products=("samplesheet.csv", "points.csv", "configs")):
        result = expand_sweep(sweep_file, out)
    click.echo(f"sweep: {result.n_points} grid points (synthesized beam {result.beam_arcsec:.2f} arcsec) "
               f"-> {result.samplesheet}")
