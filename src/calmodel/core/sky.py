"""Sky components and their exact visibilities.

A component has an offset from its field centre, a flux density at a reference
frequency, a spectral index and an optional elliptical Gaussian shape. The
visibility convention is CASA's (the one `ft` uses for component lists):

    V(u, v, w) = sum_k S_k (nu/nu0)^alpha_k  G_k(u, v)  exp(+2 pi i (u l_k + v m_k + w (n_k - 1)))

with (u, v, w) in wavelengths, l towards east and m towards north, and G_k the
Fourier transform of the unit-flux Gaussian (1 for a point source). The positive
exponent goes with the MS UVW convention (baseline = antenna2 - antenna1).
tests/test_simulate.py checks this against CASA's `ft` on a component list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ARCSEC = np.pi / (180.0 * 3600.0)
C_LIGHT = 299_792_458.0
_GAUSS_FT = np.pi**2 / (4.0 * np.log(2.0))


@dataclass(frozen=True)
class Component:
    """One sky component. ``ra_deg``/``dec_deg`` are absolute; offsets are derived per field."""

    ra_deg: float
    dec_deg: float
    flux_jy: float  # at ``ref_freq_hz``
    alpha: float = 0.0
    maj_arcsec: float = 0.0  # FWHM; 0 means a point source
    min_arcsec: float = 0.0
    pa_deg: float = 0.0  # east of north
    ref_freq_hz: float = 3.0e9
    field: str = ""

    @property
    def is_point(self) -> bool:
        return self.maj_arcsec <= 0.0

    def as_row(self) -> dict:
        return asdict(self)


def direction_cosines(ra_deg, dec_deg, ra0_deg: float, dec0_deg: float):
    """(l, m, n) of directions relative to a phase centre (SIN projection)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    dra = ra - ra0
    l = np.cos(dec) * np.sin(dra)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(dra)
    n = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(dra)
    return l, m, n


def mean_direction(ra_deg, dec_deg) -> tuple[float, float]:
    """(RA, Dec) in degrees of the mean of unit vectors: right across RA 0/360 and near a pole."""
    ra, dec = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    x, y, z = (np.mean(np.cos(dec) * np.cos(ra)), np.mean(np.cos(dec) * np.sin(ra)), np.mean(np.sin(dec)))
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(np.degrees(np.arctan2(z, np.hypot(x, y))))


def offset_position(ra0_deg: float, dec0_deg: float, east_arcsec: float, north_arcsec: float):
    """Absolute (ra, dec) of a point at tangent-plane offsets (l, m) from a centre."""
    l, m = east_arcsec * ARCSEC, north_arcsec * ARCSEC
    n = np.sqrt(1.0 - l * l - m * m)
    dec0, ra0 = np.radians(dec0_deg), np.radians(ra0_deg)
    dec = np.arcsin(m * np.cos(dec0) + n * np.sin(dec0))
    ra = ra0 + np.arctan2(l, n * np.cos(dec0) - m * np.sin(dec0))
    return float(np.degrees(ra) % 360.0), float(np.degrees(dec))


def visibilities(components: list[Component], uvw_m: np.ndarray, freq_hz: np.ndarray,
                 ra0_deg: float, dec0_deg: float, primary_beam=None) -> np.ndarray:
    """Model visibilities, shape (nchan, nrow), complex128.

    ``uvw_m`` is (3, nrow) in metres (the MS UVW column), ``freq_hz`` (nchan,);
    ``primary_beam(l, m, freq_hz)`` (e.g. a :class:`calmodel.core.primary_beam.RadialBeam`)
    attenuates each component, or None for none.
    """
    uvw_m = np.asarray(uvw_m, dtype=float)
    freq_hz = np.asarray(freq_hz, dtype=float)
    scale = (freq_hz / C_LIGHT)[:, None]  # metres -> wavelengths, per channel
    u, v, w = (uvw_m[i][None, :] * scale for i in range(3))
    out = np.zeros((freq_hz.size, uvw_m.shape[1]), dtype=complex)
    for comp in components:
        l, m, n = direction_cosines(comp.ra_deg, comp.dec_deg, ra0_deg, dec0_deg)
        spectrum = comp.flux_jy * (freq_hz / comp.ref_freq_hz) ** comp.alpha
        if primary_beam is not None:
            spectrum = spectrum * primary_beam(l, m, freq_hz)
        term = np.exp(2j * np.pi * (u * l + v * m + w * (n - 1.0)))
        if not comp.is_point:
            pa = np.radians(comp.pa_deg)
            along_major = u * np.sin(pa) + v * np.cos(pa)
            along_minor = u * np.cos(pa) - v * np.sin(pa)
            term = term * np.exp(-_GAUSS_FT * ((comp.maj_arcsec * ARCSEC * along_major) ** 2
                                               + (comp.min_arcsec * ARCSEC * along_minor) ** 2))
        out += spectrum[:, None] * term
    return out
