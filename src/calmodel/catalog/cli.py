"""`calmodel catalog`: options from CatalogSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.catalog.settings import CatalogSettings as S
from calmodel.core.options import setting, settings_from


@click.command("catalog")
@click.option("--image", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Total-intensity FITS image (e.g. <name>.image.tt0.fits).")
@click.option("--alpha", type=click.Path(dir_okay=False, path_type=Path),
              help="Spectral index FITS image; adds Alpha at each component.")
@click.option("--alpha-error", type=click.Path(dir_okay=False, path_type=Path),
              help="Spectral index error FITS image; adds E_Alpha.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: catalog.fits, catalog.csv, catalog.json.")
@setting(S, "allow_empty", help="Write an empty catalogue when no source is found (default: error).")
@setting(S, "thresh_isl", help="PyBDSF island threshold (sigma).")
@setting(S, "thresh_pix", help="PyBDSF peak threshold (sigma).")
@setting(S, "rms_box", nargs=2, type=int,
         help="PyBDSF rms box and step in pixels [default: VLASS (200,50) scaled to the image].")
@setting(S, "ncores", help="Cores PyBDSF may use.")
def command(image: Path, alpha: Path | None, alpha_error: Path | None, out: Path, **params) -> None:
    """PyBDSF component (Gaussian) catalogue of one image, with spectral index."""
    from calmodel.catalog.stage import make_catalog
    from calmodel.core.outputs import stage_output

    with stage_output(out, "catalog.json", inputs=(image, alpha, alpha_error),
                      products=("catalog.fits", "catalog.csv")):
        result = make_catalog(image, out, alpha=alpha, alpha_error=alpha_error, settings=settings_from(S, params))
    click.echo(f"{result.n_components} components ({result.n_with_alpha} with alpha), "
               f"rms {result.rms_jy_per_beam * 1e6:.1f} uJy/beam -> {result.catalog_fits}")
