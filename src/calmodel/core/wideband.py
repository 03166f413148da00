"""How many Taylor terms the data can support: one rule for build-model and imaging.

    nterms = 2  when the data hold at least two distinct frequencies AND their fractional
                bandwidth (highest channel edge - lowest channel edge) / centre is at
                least ``min_fractional_bandwidth``
    nterms = 1  otherwise (the model's spectral index is then 0, and the record says so)

Why a fractional-bandwidth floor (the value lives in each stage's settings, 0.15): a
spectral index fitted across a band of fractional width f has an error of roughly
sqrt(2) * e / f for a per-channel amplitude error e. With e ~ 1% (the accuracy of the
Perley-Butler 2017 flux-density scale and of a good bandpass) that error is 0.1 at
f ~ 0.14, so below ~15% the second Taylor term fits calibration errors and noise, and for
a single channel mtmfs' Hessian is singular ("Non-invertible Hessian", 3C273XC1.fits).
VLASS (2-4 GHz, f = 0.67) keeps nterms 2; NGC5921 (L band, 63 channels over 1.5 MHz,
f = 0.001) and 3C273XC1 (one channel) get nterms 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import casa_tools


@dataclass(frozen=True)
class TaylorTerms:
    nterms: int
    n_frequencies: int
    fractional_bandwidth: float
    reason: str

    def as_record(self) -> dict:
        return {"nterms": self.nterms, "n_frequencies": self.n_frequencies,
                "fractional_bandwidth": self.fractional_bandwidth, "reason": self.reason}


def spw_channels(ms: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(channel frequencies, |channel widths|) in Hz of every spw of ``ms``, by spw id."""
    tb = casa_tools().tools.table()
    tb.open(str(Path(ms) / "SPECTRAL_WINDOW"))
    try:
        return [(np.atleast_1d(tb.getcell("CHAN_FREQ", row)).astype(float),
                 np.abs(np.atleast_1d(tb.getcell("CHAN_WIDTH", row)).astype(float)))
                for row in range(tb.nrows())]
    finally:
        tb.close()


def band_coverage(ms: Path) -> tuple[int, float]:
    """(number of distinct channel frequencies, fractional bandwidth) over every spw of ``ms``."""
    channels = spw_channels(ms)
    freqs = [float(v) for f, _ in channels for v in f]
    lows = [float(np.min(f - w / 2)) for f, w in channels if f.size]
    highs = [float(np.max(f + w / 2)) for f, w in channels if f.size]
    if not freqs:
        return 0, 0.0
    low, high = min(lows), max(highs)
    return len(np.unique(np.round(freqs))), float((high - low) / (0.5 * (high + low)))


def taylor_terms(ms: Path, min_fractional_bandwidth: float, wanted: int = 2) -> TaylorTerms:
    """``wanted`` Taylor terms if the band supports them (the module's rule), else 1."""
    n_freq, frac = band_coverage(ms)
    if wanted <= 1:
        return TaylorTerms(1, n_freq, frac, "one Taylor term asked for")
    if n_freq < 2:
        return TaylorTerms(1, n_freq, frac, f"{n_freq} distinct frequency: no spectral index can be "
                                            "fitted; nterms 1")
    if frac < min_fractional_bandwidth:
        return TaylorTerms(1, n_freq, frac, f"fractional bandwidth {frac:.4f} < {min_fractional_bandwidth}: "
                                            "too narrow to constrain a spectral index; nterms 1")
    return TaylorTerms(wanted, n_freq, frac, f"fractional bandwidth {frac:.4f} >= {min_fractional_bandwidth} "
                                             f"over {n_freq} frequencies: nterms {wanted}")


# --- what a wideband image measures ----------------------------------------------------------
# An mfs image with nterms Taylor terms at reffreq nu0 fits I(nu) = sum_k tt_k x^k, x = (nu - nu0)/nu0,
# to the data's channels (weighted), and reports tt0. For a curved spectrum tt0 is that fit's
# intercept, not I(nu0): a power law of index alpha over a band of fractional width f gives
# tt0 / I(nu0) - 1 ~ alpha (alpha - 1) / 2 * <x^2> for nterms 2 (1.4% for alpha = -0.7 over
# 2-4 GHz), and for nterms 1 the weighted band average. Comparing a catalogue with the truth
# at nu0 without this folds a spectrum-dependent bias of a few % into the yardstick.

@dataclass(frozen=True)
class Band:
    """The channels an image was made from, with their relative weights."""

    frequencies_hz: tuple
    weights: tuple
    nterms: int
    reffreq_hz: float

    def as_record(self) -> dict:
        return {"frequencies_hz": list(self.frequencies_hz), "weights": list(self.weights),
                "nterms": self.nterms, "reffreq_hz": self.reffreq_hz}

    @classmethod
    def from_record(cls, record: dict | None) -> "Band | None":
        if not record:
            return None
        return cls(tuple(record["frequencies_hz"]), tuple(record["weights"]), int(record["nterms"]),
                   float(record["reffreq_hz"]))


def measured_flux(flux_jy, alpha, ref_freq_hz, band: Band) -> np.ndarray:
    """tt0 that an image on ``band`` reports for power-law components S (nu/ref)^alpha.

    Weighted least squares of the spectrum sampled at the band's channels against the
    image's Taylor polynomial: exact for the linear model mtmfs fits, per component.
    """
    flux_jy, alpha, ref = (np.atleast_1d(np.asarray(v, float)) for v in (flux_jy, alpha, ref_freq_hz))
    nu = np.asarray(band.frequencies_hz, float)
    w = np.asarray(band.weights, float)
    x = (nu - band.reffreq_hz) / band.reffreq_hz
    design = np.vstack([x**k for k in range(band.nterms)]).T * np.sqrt(w)[:, None]
    # Row k of the pseudo-inverse maps a sampled spectrum to tt_k; only tt0 is wanted.
    tt0_row = np.linalg.pinv(design)[0] * np.sqrt(w)
    spectra = flux_jy[:, None] * (nu[None, :] / ref[:, None]) ** np.nan_to_num(alpha)[:, None]
    return spectra @ tt0_row


def band_of(ms: Path, field_ids: list[int], nterms: int, reffreq_hz: float) -> Band:
    """The channels of ``field_ids`` in ``ms`` and their weights (unflagged samples x WEIGHT,
    the natural weights; Briggs weighting reshapes these per uv cell, which this ignores)."""
    chan_freq = [freqs for freqs, _ in spw_channels(ms)]
    tb = casa_tools().tools.table()
    tb.open(str(Path(ms) / "DATA_DESCRIPTION"))
    try:
        ddid_spw = tb.getcol("SPECTRAL_WINDOW_ID")
    finally:
        tb.close()
    sums = [np.zeros(f.size) for f in chan_freq]
    tb.open(str(ms))
    try:
        fields = ",".join(str(int(i)) for i in field_ids)
        for ddid, spw in enumerate(ddid_spw):
            sub = tb.query(f"FIELD_ID IN [{fields}] AND DATA_DESC_ID=={ddid} AND NOT FLAG_ROW")
            try:
                for start in range(0, sub.nrows(), 50_000):
                    n = min(50_000, sub.nrows() - start)
                    flag = sub.getcol("FLAG", start, n)  # (npol, nchan, nrow)
                    weight = sub.getcol("WEIGHT", start, n)  # (npol, nrow)
                    sums[spw] += np.einsum("pcr,pr->c", ~flag, weight)
            finally:
                sub.close()
    finally:
        tb.close()
    freqs = np.concatenate(chan_freq)
    weights = np.concatenate(sums)
    keep = weights > 0
    if not keep.any():
        raise CalmodelError(f"no unflagged, weighted data for fields {field_ids} in {ms}")
    return Band(tuple(freqs[keep].tolist()), tuple((weights[keep] / weights[keep].max()).tolist()),
                int(nterms), float(reffreq_hz))
