"""Settings of the characterize stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CharacterizeSettings:
    field: str | None = None  # gain calibrator; default: from the scan intents (core.roles)
    bandpass_field: str | None = None  # flux/bandpass calibrator; default: from the intents
    threshold: float = 0.03  # fractional deviation that counts (memo: 3%)
    band_klambda: tuple[float, float] = (35.0, 90.0)  # where a deviation needs a model (memo)
    band_scale: float = 1.0  # multiplies the band edges (other configuration or frequency)
    nsigma: float = 3.0  # a bin deviates only if |dev| > nsigma x its uncertainty too
    nbins: int = 11  # bins across the band
    binning: str = "linear"  # linear | quantile
    min_count: int = 20  # visibilities a bin needs to be judged
    min_bins: int = 2  # judged bins the band needs
    min_fraction: float = 0.05  # fraction of visibilities the band needs
    spw: str = ""  # CASA spw/channel selection
    refant: str = ""  # default: core.ms.reference_antenna
    keep_work: bool = False  # keep the private calibrated copy
