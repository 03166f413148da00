"""Each arm's image noise, and the model/nomodel RMS ratio with its uncertainty."""

from __future__ import annotations

import math

from calmodel.report.values import get_in, number

GAUSSIAN_BEAM_AREA = math.pi / (4.0 * math.log(2.0))  # x bmaj x bmin
# relative standard error of a 1.4826 x MAD noise estimate from n independent samples is
# 1.166 / sqrt(n) (the MAD's efficiency for a normal sample is 37%)
MAD_RELATIVE_ERROR = 1.166


def independent_beams(image: dict) -> float | None:
    """Beams in the image (image.json imsize, cell_arcsec, beam): the independent samples
    behind its rms."""
    size = image.get("imsize")
    cell = number(image.get("cell_arcsec"))
    bmaj, bmin = number(get_in(image, "beam", "major_arcsec")), number(get_in(image, "beam", "minor_arcsec"))
    if not isinstance(size, list) or len(size) != 2 or not cell or not bmaj or not bmin:
        return None
    return size[0] * size[1] * cell**2 / (GAUSSIAN_BEAM_AREA * bmaj * bmin)


def rms_relative_error(image: dict) -> float | None:
    beams = independent_beams(image)
    return MAD_RELATIVE_ERROR / math.sqrt(beams) if beams and beams > 1 else None


def rms_ratio(model_image: dict, nomodel_image: dict) -> dict | None:
    """model/nomodel rms as a fit-like {mean, mean_err}. The error treats the two estimates
    as independent: conservative, since both arms image the same thermal noise."""
    model_rms, nomodel_rms = number(model_image.get("rms_jy")), number(nomodel_image.get("rms_jy"))
    if not model_rms or not nomodel_rms:
        return None
    ratio = model_rms / nomodel_rms
    errors = [rms_relative_error(model_image), rms_relative_error(nomodel_image)]
    error = ratio * math.hypot(*errors) if None not in errors else None
    return {"mean": ratio, "mean_err": error, "sigma": None, "n": 1, "n_core": 1,
            "error_rule": "independent MAD errors, 1.166/sqrt(beams) each (conservative)"}
