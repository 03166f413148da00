"""`calmodel real-samplesheet`: a samplesheet of the real VLA observations that ship in the
installed casadata package (`__data__/demo`), with their paths resolved here and now, so that
`nextflow run . -profile test_real` needs no machine-specific path (docs/real-data.md).

Each row gives only what a new user would: the tile, the file, and build_model=always where
characterize would not otherwise call for a model:

    n5921     NGC5921.fits   VLA D, L band line data: 3C286 (flux/bandpass), 1445+099 (gain),
                             NGC5921 (target). 1445+099 is a point source at D/L band
                             (characterize: point), so its model is built on request.
    3c273xc1  3C273XC1.fits  VLA C, X band, one channel, 3C273 alone: a calibrator-only tile.
                             Its jet deviates only below the scaled band (characterize:
                             uvrange), so its model is built on request.
"""

from __future__ import annotations

from pathlib import Path

import click

from calmodel import CalmodelError
from calmodel.core.casa import casadata_path
from calmodel.core.io import write_csv

# tile -> (file in casadata's demo folder, build_model)
REAL_OBSERVATIONS = {
    "n5921": ("NGC5921.fits", "always"),
    "3c273xc1": ("3C273XC1.fits", "always"),
}


def write_samplesheet(out: Path, tiles: tuple[str, ...] = ()) -> Path:
    """Write the samplesheet of ``tiles`` (default: all of REAL_OBSERVATIONS) to ``out``."""
    chosen = tiles or tuple(REAL_OBSERVATIONS)
    unknown = [t for t in chosen if t not in REAL_OBSERVATIONS]
    if unknown:
        raise CalmodelError(f"unknown tile(s) {', '.join(unknown)}; known: {', '.join(REAL_OBSERVATIONS)}")
    demo = casadata_path() / "demo"
    rows = []
    for tile in chosen:
        name, build_model = REAL_OBSERVATIONS[tile]
        path = demo / name
        if not path.is_file():
            raise CalmodelError(f"{path} is missing from the installed casadata package")
        rows.append({"tile": tile, "ms": str(path.resolve()), "build_model": build_model})
    return write_csv(Path(out), rows, ["tile", "ms", "build_model"])


@click.command("real-samplesheet")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Samplesheet to write (CSV: tile,ms,build_model).")
@click.option("--tile", "tiles", multiple=True, type=click.Choice(list(REAL_OBSERVATIONS)),
              help="Only this tile (repeatable; default: all).")
def command(out: Path, tiles: tuple[str, ...]) -> None:
    """A samplesheet of casadata's real VLA observations (NGC5921, 3C273XC1), for -profile test_real."""
    click.echo(f"wrote {write_samplesheet(out, tiles)}")
