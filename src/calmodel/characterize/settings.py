"""Settings of the characterize stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.core.options import bounded


@dataclass(frozen=True)
class CharacterizeSettings:
    field: str | None = None  # gain calibrator; default: from the scan intents (core.roles)
    bandpass_field: str | None = None  # flux/bandpass calibrator; default: from the intents
    threshold: float = bounded(0.03, low=0, low_open=True)  # fractional deviation that counts (memo: 3%)
    band_klambda: tuple[float, float] = (35.0, 90.0)  # where a deviation needs a model (memo)
    band_scale: float | None = bounded(None, low=0, low_open=True)  # multiplies the band edges; None: from the data (core.uvband)
    nsigma: float = bounded(3.0, low=0)  # a bin deviates only if |dev| > nsigma x its uncertainty too
    nbins: int = bounded(11, low=1)  # bins across the band
    binning: str = "linear"  # linear | quantile
    min_count: int = bounded(20, low=1)  # visibilities a bin needs to be judged
    min_bins: int = bounded(2, low=1)  # judged bins the band needs
    min_fraction: float = bounded(0.05, low=0, high=1)  # fraction of visibilities the band needs
    # Unflagged samples kept per calibrator (a uniform random subsample beyond it, fixed
    # seed; about this many), so that memory does not grow with the data. 4e6 keeps a bin
    # median's standard error (1.2533 x scatter / sqrt(N)) below threshold/10 for a
    # per-sample scatter of 1 in a bin holding the average share of 20 bins:
    # N_bin >= (1.2533 x 10 / 0.03)^2 = 1.75e5. The uncertainties use the kept count.
    max_samples: int = bounded(4_000_000, low=1000)
    spw: str = ""  # CASA spw/channel selection
    refant: str = ""  # default: core.ms.reference_antenna
    keep_work: bool = False  # keep the private calibrated copy
