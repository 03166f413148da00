"""characterize's figure: memo Figure 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calmodel.characterize.curve import BinnedCurve, fmt_klambda
from calmodel.core.io import write_figure


def plot_curve(path: Path, fieldname: str, uvd: np.ndarray, namp: np.ndarray,
               curve: BinnedCurve, band: tuple[float, float], threshold: float,
               decision: str, max_points: int = 20_000) -> Path:
    """Memo Figure 1: normalised amplitude - 1 against uv-distance, Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    pick = rng.choice(uvd.size, size=min(max_points, uvd.size), replace=False)
    fig = Figure(figsize=(7, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(uvd[pick], namp[pick] - 1, s=1, c="0.6", alpha=0.4, lw=0, rasterized=True,
               label=f"visibilities ({pick.size} of {uvd.size})")
    ok = [i for i, d in enumerate(curve.median_dev) if d is not None and curve.populated[i]]
    dev = np.array([curve.median_dev[i] for i in ok])
    sig = np.array([curve.sigma[i] for i in ok])
    cen = np.array([curve.centres[i] for i in ok])
    bad = np.array([curve.deviates[i] for i in ok], dtype=bool)
    ax.errorbar(cen[~bad], dev[~bad], yerr=sig[~bad], fmt="o", ms=4, c="C0", label="bin median")
    if bad.any():
        ax.errorbar(cen[bad], dev[bad], yerr=sig[bad], fmt="s", ms=5, c="C3", label="deviating bin")
    ax.axvspan(*band, color="C2", alpha=0.12, label=f"band {fmt_klambda(band[0])}-{fmt_klambda(band[1])} kλ")
    for s in (-threshold, threshold):
        ax.axhline(s, color="k", ls="--", lw=0.8)
    ax.axhline(0, color="k", lw=0.5)
    spread = float(np.quantile(np.abs(namp[pick] - 1), 0.98)) if pick.size else 0.0
    span = max([0.1, 2.5 * threshold, min(spread, 0.5)] + [abs(d) * 1.3 for d in dev])
    ax.set_ylim(-span, span)
    ax.set_xlim(0, curve.edges[-1])
    ax.set_xlabel("uv-distance (kλ)")
    ax.set_ylabel("amplitude / median − 1")
    ax.set_title(f"{fieldname}: {decision}")
    ax.legend(fontsize=7, loc="upper right", markerscale=2)
    fig.tight_layout()
    return write_figure(fig, path)


