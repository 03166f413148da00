"""Names of files and folders that stages derive from fields and modes."""

from __future__ import annotations

import re


def safe_name(name: str) -> str:
    """``name`` with every character outside [A-Za-z0-9_.+-] replaced by '_' (file-safe)."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def image_name(field: str, mode: str) -> str:
    """Stem of an image stage's products: ``<field>_<mode>``."""
    return f"{safe_name(field)}_{mode}"


def image_products(name: str, mode: str) -> dict[str, str]:
    """FITS products of one image run (role -> file name); SE adds the spectral index."""
    products = {"image_tt0": f"{name}.image.tt0.fits"}
    if mode == "se":
        products.update(alpha=f"{name}.alpha.fits", alpha_error=f"{name}.alpha.error.fits")
    return products


def amp_uvdist_plot(field: str) -> str:
    """characterize's figure of one gain calibrator."""
    return f"{safe_name(field)}_amp_uvdist.png"
