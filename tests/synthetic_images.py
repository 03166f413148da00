"""Small synthetic radio images with a known sky, for the catalog and compare tests.

A sky is a fixed-seed list of elliptical Gaussian components (flux at the reference
frequency, spectral index, intrinsic size).  An image is that sky convolved with the
restoring beam (analytically: Gaussian covariances add) plus beam-correlated Gaussian
noise of a known rms, written as a 4-axis CASA-like FITS image (RA---SIN, DEC--SIN,
FREQ, STOKES) with BMAJ/BMIN/BPA.  The alpha image is the flux-weighted spectral index
of the components, blanked (NaN) where the model is below ``alpha_cut`` x rms, like the
alpha image of an mtmfs nterms=2 clean.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


@dataclass(frozen=True)
class Geometry:
    npix: int = 512
    cell_arcsec: float = 0.6
    ra_deg: float = 150.0
    dec_deg: float = 20.0
    freq_hz: float = 3.0e9
    beam_arcsec: tuple[float, float, float] = (2.5, 2.0, 30.0)  # bmaj, bmin (FWHM), bpa (deg)

    def header(self, with_freq: bool = True, with_beam: bool = True) -> fits.Header:
        hdr = fits.Header()
        hdr["BUNIT"] = "Jy/beam"
        axes = [("RA---SIN", self.ra_deg, -self.cell_arcsec / 3600.0, self.npix / 2 + 1, "deg"),
                ("DEC--SIN", self.dec_deg, self.cell_arcsec / 3600.0, self.npix / 2 + 1, "deg"),
                ("FREQ", self.freq_hz, 2.0e9, 1.0, "Hz"),
                ("STOKES", 1.0, 1.0, 1.0, "")]
        if not with_freq:
            axes[2] = ("CHANNEL", 1.0, 1.0, 1.0, "")  # a spectral-less axis: no frequency anywhere
        for i, (ctype, crval, cdelt, crpix, cunit) in enumerate(axes, start=1):
            hdr[f"CTYPE{i}"] = ctype
            hdr[f"CRVAL{i}"] = crval
            hdr[f"CDELT{i}"] = cdelt
            hdr[f"CRPIX{i}"] = crpix
            hdr[f"CUNIT{i}"] = cunit
        hdr["RADESYS"] = "FK5"
        hdr["EQUINOX"] = 2000.0
        if with_beam:
            bmaj, bmin, bpa = self.beam_arcsec
            hdr["BMAJ"] = bmaj / 3600.0
            hdr["BMIN"] = bmin / 3600.0
            hdr["BPA"] = bpa
        return hdr

    def celestial_wcs(self) -> WCS:
        return WCS(self.header()).celestial


def make_sky(n: int = 36, seed: int = 1, geometry: Geometry = Geometry(), noise_jy: float = 1e-4,
             snr_range: tuple[float, float] = (25.0, 400.0), n_faint: int = 0,
             faint_snr: tuple[float, float] = (6.0, 15.0)) -> list[dict]:
    """``n`` components with peak S/N log-uniform in ``snr_range`` (+ ``n_faint`` fainter ones),
    at least 20 beams apart and 25 pixels from the edges; a third are resolved (1-3")."""
    rng = np.random.default_rng(seed)
    wcs = geometry.celestial_wcs()
    margin, min_sep = 25, 40.0  # pixels
    positions: list[tuple[float, float]] = []
    while len(positions) < n + n_faint:
        x, y = rng.uniform(margin, geometry.npix - 1 - margin, size=2)
        if all(np.hypot(x - px, y - py) >= min_sep for px, py in positions):
            positions.append((x, y))
    sky = []
    for i, (x, y) in enumerate(positions):
        lo, hi = snr_range if i < n else faint_snr
        snr = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        resolved = rng.uniform() < 1.0 / 3.0
        maj = float(rng.uniform(1.0, 3.0)) if resolved else 0.0
        ratio = float(rng.uniform(0.4, 1.0)) if resolved else 1.0
        pa = float(rng.uniform(0.0, 180.0)) if resolved else 0.0
        alpha = float(rng.uniform(-1.2, 0.3))
        ra, dec = wcs.pixel_to_world_values(x, y)
        # flux from peak S/N: peak = flux * beam_area / convolved_area
        peak_to_total = _peak_per_jy(geometry, maj, maj * ratio, pa)
        flux = snr * noise_jy / peak_to_total
        sky.append({"ra_deg": float(ra), "dec_deg": float(dec), "flux_jy": float(flux),
                    "alpha": round(alpha, 4), "maj_arcsec": maj, "min_arcsec": maj * ratio,
                    "pa_deg": pa, "field": "TARGET"})
    return sky


def write_truth_csv(path: Path, sky: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sky[0]))
        writer.writeheader()
        writer.writerows(sky)
    return path


def _covariance(fwhm_maj: float, fwhm_min: float, pa_deg: float, cell: float) -> np.ndarray:
    """Pixel-space covariance of a Gaussian (FWHMs in arcsec, PA east of north)."""
    smaj, smin = fwhm_maj * FWHM_TO_SIGMA / cell, fwhm_min * FWHM_TO_SIGMA / cell
    t = np.radians(pa_deg)
    u = np.array([-np.sin(t), np.cos(t)])  # north = +y, east = -x
    v = np.array([np.cos(t), np.sin(t)])
    return smaj**2 * np.outer(u, u) + smin**2 * np.outer(v, v)


def _peak_per_jy(g: Geometry, maj: float, mn: float, pa: float) -> float:
    beam = _covariance(*g.beam_arcsec, g.cell_arcsec)
    conv = beam + _covariance(maj, mn, pa, g.cell_arcsec)
    return float(np.sqrt(np.linalg.det(beam) / np.linalg.det(conv)))


def _render(sky: list[dict], g: Geometry, weights: list[float]) -> np.ndarray:
    wcs = g.celestial_wcs()
    beam = _covariance(*g.beam_arcsec, g.cell_arcsec)
    yy, xx = np.mgrid[0:g.npix, 0:g.npix].astype(float)
    out = np.zeros((g.npix, g.npix))
    for src, w in zip(sky, weights):
        x0, y0 = wcs.world_to_pixel_values(src["ra_deg"], src["dec_deg"])
        shape = (src["maj_arcsec"], src["min_arcsec"], src["pa_deg"])
        inv = np.linalg.inv(beam + _covariance(*shape, g.cell_arcsec))
        dx, dy = xx - x0, yy - y0
        q = inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy
        out += w * _peak_per_jy(g, *shape) * np.exp(-0.5 * q)
    return out


def model_image(sky: list[dict], g: Geometry = Geometry(), scale: float = 1.0) -> np.ndarray:
    """The noiseless sky in Jy/beam."""
    return _render(sky, g, [scale * s["flux_jy"] for s in sky])


def correlated_noise(g: Geometry, noise_jy: float, seed: int) -> np.ndarray:
    """White noise smoothed to beam-correlated noise, rescaled to an rms of ``noise_jy``."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((g.npix, g.npix))
    beam = _covariance(*g.beam_arcsec, g.cell_arcsec)
    k = np.fft.fftfreq(g.npix)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    # Smoothing with a Gaussian of covariance C/2 gives noise whose autocorrelation is the
    # beam (covariance C); the transform of that kernel is exp(-pi^2 k^T C k).
    quad = beam[0, 0] * kx**2 + 2 * beam[0, 1] * kx * ky + beam[1, 1] * ky**2
    kernel = np.exp(-np.pi**2 * quad)
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * kernel))
    return noise * (noise_jy / noise.std())


def write_fits(path: Path, data2d: np.ndarray, g: Geometry = Geometry(), with_freq: bool = True,
               with_beam: bool = True, bunit: str | None = None) -> Path:
    hdr = g.header(with_freq=with_freq, with_beam=with_beam)
    if bunit is not None:
        hdr["BUNIT"] = bunit
    fits.PrimaryHDU(data=data2d[np.newaxis, np.newaxis].astype(np.float32), header=hdr).writeto(
        path, overwrite=True)
    return Path(path)


def write_image(path: Path, sky: list[dict], g: Geometry = Geometry(), noise_jy: float = 1e-4,
                seed: int = 7, scale: float = 1.0, **kwargs) -> Path:
    """The sky (fluxes x ``scale``) convolved with the beam plus correlated noise."""
    data = model_image(sky, g, scale) + correlated_noise(g, noise_jy, seed)
    return write_fits(path, data, g, **kwargs)


def write_alpha_images(alpha_path: Path, error_path: Path, sky: list[dict],
                       g: Geometry = Geometry(), noise_jy: float = 1e-4,
                       alpha_cut: float = 5.0) -> tuple[Path, Path]:
    """Flux-weighted spectral index of the components, NaN below ``alpha_cut`` x rms;
    the error image is noise / model (a crude 1/SNR error)."""
    total = model_image(sky, g)
    weighted = _render(sky, g, [s["flux_jy"] * s["alpha"] for s in sky])
    with np.errstate(all="ignore"):
        alpha = np.where(total > alpha_cut * noise_jy, weighted / total, np.nan)
        error = np.where(np.isfinite(alpha), noise_jy / total, np.nan)
    write_fits(alpha_path, alpha, g, bunit="")
    write_fits(error_path, error, g, bunit="")
    return Path(alpha_path), Path(error_path)
