"""The sweep's heat maps: flux ratio x separation, one figure per (secondary alpha, number of
secondaries). Seeds of a cell are summarised by their median (and the count of changes).

Drawn on every panel: the memo's scope boundary (core > scope_ratio x the secondary:
in scope below the line), the memo's Figure 2 calibrator (68x fainter; its separation is
not stated, so it is a line), and a frame around each cell the 3% rule flags (model-needed).
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import median

from calmodel.core.io import write_figure
from calmodel.report.sweep_map import CHANGE, FLAGGED, INSUFFICIENT, MEMO_FIGURE2_RATIO, NO_CHANGE

DECISION_LETTER = {"point": "P", "uvrange": "U", FLAGGED: "M", "insufficient-coverage": "?", "unknown": "–"}
# (column, title, colour map, symmetric about this value or None, format)
PANELS = {
    "ql": [("ql_flux_offset_rms", "QL total flux offset / image RMS", "RdBu_r", 0.0, "{:+.1f}"),
           ("ql_flux_offset_frac", "QL total flux offset (fractional, %)", "RdBu_r", 0.0, "{:+.1f}"),
           ("ql_rms_ratio", "QL image RMS, model / nomodel", "RdBu_r", 1.0, "{:.2f}"),
           ("ql_nomodel_over_true", "QL nomodel / truth (total flux)", "RdBu_r", 1.0, "{:.2f}")],
    "se": [("se_flux_offset_rms", "SE total flux offset / image RMS", "RdBu_r", 0.0, "{:+.1f}"),
           ("se_flux_offset_frac", "SE total flux offset (fractional, %)", "RdBu_r", 0.0, "{:+.1f}"),
           ("se_rms_ratio", "SE image RMS, model / nomodel", "RdBu_r", 1.0, "{:.2f}"),
           ("se_alpha_offset", "SE spectral index offset", "RdBu_r", 0.0, "{:+.2f}")],
}
PANELS_PER_ROW = 3
PERCENT_COLUMNS = {"ql_flux_offset_frac", "se_flux_offset_frac"}
OUTCOME_COLOURS = {CHANGE: "#d62728", NO_CHANGE: "#2ca02c", INSUFFICIENT: "#bbbbbb"}


def _cells(rows: list[dict]) -> dict[tuple, list[dict]]:
    cells: dict[tuple, list[dict]] = {}
    for row in rows:
        cells.setdefault((row["flux_ratio"], row["separation_beams"]), []).append(row)
    return cells


def _cell_value(members: list[dict], column: str) -> float | None:
    values = [r.get(column) for r in members if r.get(column) is not None]
    if not values:
        return None
    value = median(values)
    return value * 100.0 if column in PERCENT_COLUMNS else value


def _boundary_index(values: list[float], ratio: float) -> float:
    """Cell edge below which grid flux ratios are < ``ratio`` (strictly: in scope)."""
    return sum(1 for v in values if v < ratio) - 0.5


def _log_position(values: list[float], ratio: float) -> float | None:
    if len(values) < 2 or not values[0] <= ratio <= values[-1]:
        return None
    logs = [math.log10(v) for v in values]
    target = math.log10(ratio)
    for i in range(len(values) - 1):
        if logs[i] <= target <= logs[i + 1]:
            return i + (target - logs[i]) / (logs[i + 1] - logs[i])
    return None


def _decorate(ax, ratios: list[float], separations: list[float], cells: dict, scope_ratio: float) -> None:
    ax.set_xticks(range(len(separations)), [f"{s:g}" for s in separations])
    ax.set_yticks(range(len(ratios)), [f"{r:g}" for r in ratios])
    ax.set_xlabel("separation (synthesized beams)")
    ax.set_ylabel("secondary / primary flux")
    edge = _boundary_index(ratios, 1.0 / scope_ratio)
    ax.axhline(edge, color="black", lw=2.0, ls="--")
    ax.text(len(separations) - 0.55, edge, f"in scope below (core > {scope_ratio:g}x)", va="top",
            ha="right", fontsize=7, bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
    memo = _log_position(ratios, MEMO_FIGURE2_RATIO)
    if memo is not None:
        ax.axhline(memo, color="purple", lw=1.2, ls=":")
        ax.text(-0.45, memo, "memo Fig. 2 (68x fainter)", va="bottom", fontsize=7, color="purple",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
    for (ratio, sep), members in cells.items():
        if any(m["decision"] == FLAGGED for m in members):
            ax.add_patch(_frame(separations.index(sep), ratios.index(ratio)))


def _frame(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.45, y - 0.45), 0.9, 0.9, fill=False, lw=2.0, ec="black")


def _outcome_panel(ax, ratios, separations, cells) -> None:
    import numpy as np

    grid = np.full((len(ratios), len(separations), 3), 1.0)
    for (ratio, sep), members in cells.items():
        changed = sum(1 for m in members if m["outcome"] == CHANGE)
        judged = sum(1 for m in members if m["outcome"] != INSUFFICIENT)
        outcome = INSUFFICIENT if not judged else (CHANGE if changed * 2 > judged else NO_CHANGE)
        colour = OUTCOME_COLOURS[outcome].lstrip("#")
        y, x = ratios.index(ratio), separations.index(sep)
        grid[y, x] = [int(colour[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]
        deviations = [m["max_dev_in_band"] for m in members if m["max_dev_in_band"] is not None]
        letters = "".join(sorted({DECISION_LETTER.get(m["decision"], "–") for m in members}))
        text = f"{letters} {100 * median(deviations):.0f}%" if deviations else letters
        if len(members) > 1:
            text += f"\n{changed}/{judged} chg"
        ax.text(x, y, text, ha="center", va="center", fontsize=7)
    ax.imshow(grid, origin="lower", aspect="auto")
    ax.set_title("outcome (red: significant change) ·\nrule: P/U/M, largest in-band deviation", fontsize=8)


def _value_panel(fig, ax, ratios, separations, cells, column, title, cmap, centre, fmt) -> None:
    import numpy as np

    grid = np.full((len(ratios), len(separations)), np.nan)
    for (ratio, sep), members in cells.items():
        value = _cell_value(members, column)
        if value is not None:
            y, x = ratios.index(ratio), separations.index(sep)
            grid[y, x] = value
    finite = grid[np.isfinite(grid)]
    span = float(np.max(np.abs(finite - centre))) if finite.size else 1.0
    span = span or 1.0
    for (ratio, sep), members in cells.items():
        y, x = ratios.index(ratio), separations.index(sep)
        if np.isfinite(grid[y, x]):  # white on the dark ends of the colour map
            dark = abs(grid[y, x] - centre) > 0.6 * span
            ax.text(x, y, fmt.format(grid[y, x]), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=centre - span, vmax=centre + span)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=8)


def sweep_figures(rows: list[dict], modes: list[str], scope_ratio: float, out: Path) -> list[tuple[Path, str]]:
    """One PNG per (secondary alpha, n secondaries): (path, caption) of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["secondary_alpha"], row["n_secondaries"]), []).append(row)
    for (alpha, n), members in sorted(groups.items()):
        ratios = sorted({r["flux_ratio"] for r in members})
        separations = sorted({r["separation_beams"] for r in members})
        cells = _cells(members)
        panels = [p for mode in modes for p in PANELS[mode]]
        nrows = math.ceil((1 + len(panels)) / PANELS_PER_ROW)
        fig, axes = plt.subplots(nrows, PANELS_PER_ROW, figsize=(4.4 * PANELS_PER_ROW, 3.8 * nrows),
                                 squeeze=False)
        axes = list(axes.flat)
        _outcome_panel(axes[0], ratios, separations, cells)
        _decorate(axes[0], ratios, separations, cells, scope_ratio)
        for ax, panel in zip(axes[1:], panels):
            _value_panel(fig, ax, ratios, separations, cells, *panel)
            _decorate(ax, ratios, separations, cells, scope_ratio)
        for ax in axes[1 + len(panels):]:
            ax.set_visible(False)
        fig.suptitle(f"Sweep map: {n} secondary at alpha {alpha:g} (framed: the 3% rule flags model-needed)",
                     fontsize=10)
        fig.tight_layout()
        path = write_figure(fig, out / f"sweep_map_alpha{alpha:g}_n{n}.png", dpi=90)
        plt.close(fig)
        written.append((path, f"Sweep map, {n} secondary at alpha {alpha:g}: outcome and 3% rule "
                              "decision per grid point, and the measured effect (medians over seeds)"))
    return written
