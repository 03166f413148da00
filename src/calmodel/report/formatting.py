"""Numbers as the tables print them (memo Tables 2/3 style: mean ± error (sigma))."""

from __future__ import annotations

import math

from calmodel.report.values import number


def decimals_for(err: float | None, scale: float) -> int:
    if err is None or err * scale <= 0 or not math.isfinite(err * scale):
        return 3
    return int(min(4, max(0, 1 - math.floor(math.log10(abs(err * scale))))))


def fmt_fit(fit: dict | None, scale: float = 1.0, suffix: str = "") -> str:
    """'mean ± err (sigma ± err)' as memo Tables 2/3."""
    if not fit or fit.get("mean") is None:
        return "–"
    d = decimals_for(fit.get("mean_err"), scale)
    text = f"{fit['mean'] * scale:+.{d}f}"
    if float(text) == 0.0:
        text = "+" + text[1:]  # no "-0.000"
    if fit.get("mean_err") is not None:
        text += f" ± {fit['mean_err'] * scale:.{d}f}"
    text += suffix
    if fit.get("sigma") is not None:
        ds = decimals_for(fit.get("sigma_err"), scale) if fit.get("sigma_err") else d
        inner = f"{fit['sigma'] * scale:.{ds}f}"
        if fit.get("sigma_err") is not None:
            inner += f" ± {fit['sigma_err'] * scale:.{ds}f}"
        text += f" ({inner}{suffix})"
    return text


def fmt_centre(c: dict | None) -> str:
    if not c or c.get("median") is None:
        return "–"
    spread = c.get("robust_sigma")
    return f"{c['median']:.2f}" + (f" ± {spread:.2f}" if spread is not None else "")


def fmt_number(x, spec: str = ".3g", none: str = "–") -> str:
    x = number(x)
    return none if x is None else format(x, spec)


def fmt_fraction(c: dict | None) -> str:
    if not c or c.get("fraction") is None:
        return "–"
    return f"{c['fraction'] * 100:.1f}% ({c.get('n_detected')}/{c.get('n_truth')})"


def fmt_ratio(fit: dict | None, sample: str | None, snr_min) -> str:
    """'median ± error (scatter) [sample]' of a truth flux ratio."""
    if not fit or fit.get("mean") is None:
        return "–"
    text = f"{fit['mean']:.3f}"
    if fit.get("mean_err") is not None:
        text += f" ± {fit['mean_err']:.3f}"
    if fit.get("sigma") is not None:
        text += f" ({fit['sigma']:.3f})"
    label = f"S/N ≥ {fmt_number(snr_min, 'g')}" if sample == "flux_ratio_bright" else "all"
    return f"{text} [{label}]"


def fmt_plus_minus(value, error, spec: str) -> str:
    """'value ± error' (either may be missing)."""
    text = fmt_number(value, spec)
    return text + (f" ± {fmt_number(error, spec)}" if number(error) is not None else "")
