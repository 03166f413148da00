"""Injected instrumental effects: antenna gains, bandpasses and thermal noise.

Observed visibilities follow CASA's measurement equation for parallel hands,

    V_obs[a1, a2, pol](t, nu) = J[a1, pol](t, nu) V_true(t, nu) conj(J[a2, pol](t, nu)) + noise

with J = g(t) b(nu): a smooth, time-variable complex gain per antenna, spectral
window and polarisation, times a per-antenna bandpass shape. Noise is complex
Gaussian with ``sigma`` per real and imaginary part of each visibility, from the
radiometer equation sigma = SEFD / (efficiency * sqrt(2 * channel_width * t_int)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CorruptionSettings:
    enabled: bool = True
    phase_offset_deg: float = 180.0  # uniform scatter of the initial phases (+-)
    phase_drift_deg: float = 30.0  # peak drift over the block
    amp_scatter_frac: float = 0.05  # antenna-to-antenna amplitude scatter
    amp_drift_frac: float = 0.03  # peak amplitude drift over the block
    bandpass_amp_frac: float = 0.05  # ripple amplitude across each spw
    delay_ns: float = 2.0  # scatter of residual delays (bandpass phase slope)


@dataclass
class Gains:
    """Sampled injected gains; the arrays are what `truth/gains.npz` stores."""

    times: np.ndarray  # (ntime,) MJD seconds, the MS TIME values
    gain: np.ndarray  # (ntime, nant, nspw, npol) complex
    bandpass: np.ndarray  # (nant, nspw, nchan, npol) complex


def make_gains(rng: np.random.Generator, settings: CorruptionSettings, times: np.ndarray,
               nant: int, chan_freq_hz: np.ndarray, npol: int = 2) -> Gains:
    """Smooth gains: a random offset plus a sum of slow sinusoids per antenna/spw/pol."""
    nspw, nchan = chan_freq_hz.shape
    ntime = times.size
    if not settings.enabled:
        return Gains(times, np.ones((ntime, nant, nspw, npol), complex),
                     np.ones((nant, nspw, nchan, npol), complex))
    span = max(float(times.max() - times.min()), 1.0)
    x = ((times - times.min()) / span)[:, None, None, None]  # 0..1 over the block
    shape = (1, nant, nspw, npol)

    def slow_wave(peak: float) -> np.ndarray:
        # Two sinusoids with periods of 0.7-3 block lengths: a smooth drift, no jumps.
        total = np.zeros((ntime, nant, nspw, npol))
        for _ in range(2):
            period = rng.uniform(0.7, 3.0, shape)
            start = rng.uniform(0.0, 2 * np.pi, shape)
            total += np.sin(2 * np.pi * x / period + start)
        return peak * total / 2.0

    phase = np.radians(rng.uniform(-settings.phase_offset_deg, settings.phase_offset_deg, shape)
                       + slow_wave(settings.phase_drift_deg))
    amp = (1.0 + rng.normal(0.0, settings.amp_scatter_frac, shape)) * (1.0 + slow_wave(settings.amp_drift_frac))
    gain = amp * np.exp(1j * phase)

    # Bandpass: a smooth amplitude ripple and a residual delay per antenna/spw/pol.
    rel = (chan_freq_hz - chan_freq_hz.mean(axis=1, keepdims=True))[None, :, :, None]  # (1, nspw, nchan, 1)
    width = max(float(np.ptp(chan_freq_hz, axis=1).max()), 1.0)
    ripple_phase = rng.uniform(0, 2 * np.pi, (nant, nspw, 1, npol))
    bp_amp = 1.0 + settings.bandpass_amp_frac * np.sin(2 * np.pi * rel / width + ripple_phase)
    delay_s = rng.normal(0.0, settings.delay_ns * 1e-9, (nant, nspw, 1, npol))
    bandpass = bp_amp * np.exp(2j * np.pi * delay_s * rel)
    return Gains(times, gain, bandpass)


def noise_sigma(sefd_jy: float, efficiency: float, channel_width_hz: float, integration_s: float) -> float:
    """Per real/imaginary part of one single-polarisation visibility."""
    return sefd_jy / (efficiency * np.sqrt(2.0 * channel_width_hz * integration_s))


def expected_image_rms(sigma: float, n_samples: int) -> float:
    """Natural-weighted Stokes I RMS from n (row, channel) samples of RR and LL each."""
    # I = (RR + LL) / 2 has sigma/sqrt(2) per part; averaging n of them divides by sqrt(n).
    return sigma / np.sqrt(2.0 * max(n_samples, 1))
