"""Numbers and names that more than one stage (or the report) relies on."""

from __future__ import annotations

import math

C_LIGHT = 299_792_458.0  # m/s
RAD_TO_ARCSEC = 180.0 / math.pi * 3600.0
MODES = ("ql", "se")  # image modes: VLASS Quicklook-like, Single-Epoch-like
ARMS = ("model", "nomodel")  # calibration arms: with / without the calibrator model
