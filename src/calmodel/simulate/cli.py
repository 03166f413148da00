"""`calmodel simulate`: options from SimulateOptions, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.core.options import setting
from calmodel.simulate.settings import SimulateOptions as S


@click.command("simulate")
@setting(S, "preset", help="Built-in tile preset (point, vlass-like, short-spacing, coequal-double).")
@setting(S, "config", type=click.Path(dir_okay=False, path_type=Path),
         help="YAML settings overriding the defaults (may name a `base:` preset).")
@setting(S, "seed", help="Seed for sky, gains and noise.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: tile.ms, tile.json, truth/.")
@setting(S, "overwrite", help="Replace an existing tile.ms in --out.")
def command(preset: str | None, config: Path | None, seed: int, out: Path, overwrite: bool) -> None:
    """Simulate a VLASS-like execution block with its truth (sky, calibrator, gains)."""
    from calmodel.core.casa import stage_console
    from calmodel.core.outputs import check_out, exclusive
    from calmodel.simulate.stage import simulate

    check_out(out, (config,))  # tile.json is kept: without --overwrite an existing tile stays as it is
    with exclusive(out), stage_console(out):  # exclusive: what stage_output holds for the other stages
        result = simulate(out, seed, preset=preset, config=config, overwrite=overwrite)
    click.echo(f"simulate: {result.ms} ({result.n_rows} rows, {result.n_visibilities} visibilities, "
               f"noise sigma {result.noise_sigma_jy * 1e3:.2f} mJy)")
