"""Figures. Each function returns a matplotlib Figure and never calls ``plt.show()``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from scipy import stats

from . import _checks
from .bias import funnel_contours

STYLE = "whitegrid"
PALETTE = sns.color_palette("colorblind")


def _figure(width, height):
    with sns.axes_style(STYLE):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def forest_plot(yi, vi, *, labels=None, fit=None, xlabel="Hedges' g (negative = improvement)",
                title=None, level=0.95, annotate=True):
    """Forest plot: study estimates with CIs (square area ~ weight), pooled diamond and
    prediction interval (dashed line) when ``fit`` (a :class:`~gutmeta.pooling.PoolResult`) is given.
    With ``annotate``, a panel on the right lists each estimate, its CI and its weight.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    k = len(y)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    lo, hi = y - z * np.sqrt(v), y + z * np.sqrt(v)
    weights = fit.weights if fit is not None else 100 * (1 / v) / np.sum(1 / v)
    with sns.axes_style(STYLE):
        fig, axes = plt.subplots(1, 2 if annotate else 1, figsize=(10 if annotate else 8, 1.6 + 0.42 * (k + 2)),
                                 layout="constrained", sharey=True,
                                 gridspec_kw={"width_ratios": [3, 1.4]} if annotate else None)
    ax = axes[0] if annotate else axes
    rows = np.arange(k)[::-1] + 2
    ax.hlines(rows, lo, hi, color="0.25", lw=1.2)
    ax.scatter(y, rows, s=20 + 6 * weights, marker="s", color=PALETTE[0], zorder=3)
    ticks, ticklabels = list(rows), list(labs)
    xs = [lo.min(), hi.max(), 0.0]
    if fit is not None:
        d = np.array([[fit.ci_low, 0.5], [fit.estimate, 0.8], [fit.ci_high, 0.5], [fit.estimate, 0.2]])
        ax.fill(d[:, 0], d[:, 1], color=PALETTE[3], zorder=3)
        if fit.k > 1 and fit.method != "EE":
            ax.hlines(0.5, fit.pi_low, fit.pi_high, color=PALETTE[3], ls="--", lw=1)
            xs += [fit.pi_low, fit.pi_high]
        ticks.append(0.5)
        name = "Equal-effect model" if fit.method == "EE" else f"Random effects ({fit.method}, {fit.test})"
        ticklabels.append(name)
        ax.axvline(fit.estimate, color=PALETTE[3], lw=0.8, ls=":")
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(ticks, ticklabels)
    ax.set_ylim(0, k + 2.5)
    ax.set_xlabel(xlabel)
    span = max(xs) - min(xs)
    ax.set_xlim(min(xs) - 0.05 * span, max(xs) + 0.05 * span)
    if annotate:
        side = axes[1]
        side.set_axis_off()
        side.set_xlim(0, 1)
        side.text(0, k + 2.0, f"{'g':>6} {int(level * 100)}% CI         weight", fontsize=8,
                  family="monospace", va="center", weight="bold")
        for r_, yy, l_, h_, w_ in zip(rows, y, lo, hi, weights):
            side.text(0, r_, f"{yy:6.2f} [{l_:5.2f}, {h_:5.2f}] {w_:5.1f}%", fontsize=8, family="monospace",
                      va="center")
        if fit is not None:
            side.text(0, 0.5, f"{fit.estimate:6.2f} [{fit.ci_low:5.2f}, {fit.ci_high:5.2f}]", fontsize=8,
                      family="monospace", va="center", weight="bold")
    if title:
        ax.set_title(title)
    return fig


def funnel_plot(yi, vi, *, labels=None, fit=None, contours=(0.90, 0.95, 0.99), filled=None,
                xlabel="Hedges' g", title=None):
    """Contour-enhanced funnel plot (Peters et al. 2008): shaded regions of two-sided
    significance around 0 (white: p above the largest threshold), studies as points, the pooled estimate as a vertical line;
    ``filled`` (a :class:`~gutmeta.bias.TrimFillResult`) adds imputed studies as open circles.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    se = np.sqrt(v)
    se_max = se.max() * 1.1
    fig, ax = _figure(7, 5.5)
    levels = sorted(contours, reverse=True)  # widest region first
    cont = funnel_contours(0.0, se_max, levels=levels)
    edge = np.abs(np.concatenate([y, [0.0]])).max() * 1.3 + 0.5 * se_max
    shades = ["0.65", "0.8", "0.9"]
    ax.fill_betweenx([0, se_max], -edge, edge, color="0.5", zorder=0,
                     label=f"p < {1 - levels[0]:.2f}")
    bounds = [1 - lev for lev in levels]
    for i, (lev, shade) in enumerate(zip(levels, shades)):
        c = cont[cont["level"] == lev]
        upper = bounds[i + 1] if i + 1 < len(bounds) else None
        label = f"{bounds[i]:.2f} < p < {upper:.2f}" if upper else f"p > {bounds[i]:.2f}"
        color = shade if upper else "white"
        ax.fill_betweenx(c["sei"], c["low"], c["high"], color=color, zorder=0, label=label)
    ax.scatter(y, se, color=PALETTE[0], zorder=3, label="studies")
    if filled is not None and filled.k0 > 0:
        ax.scatter(filled.filled_yi, np.sqrt(filled.filled_vi), facecolors="none",
                   edgecolors=PALETTE[3], zorder=3, label="filled (trim-and-fill)")
    if fit is not None:
        ax.axvline(fit.estimate, color=PALETTE[3], lw=1, label="pooled estimate")
    ax.set_ylim(se_max, 0)
    ax.set_xlim(-edge, edge)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("standard error")
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def baujat_plot(coords, *, title=None):
    """Baujat plot from :func:`gutmeta.heterogeneity.baujat` coordinates."""
    fig, ax = _figure(7, 5)
    ax.scatter(coords["x"], coords["y"], color=PALETTE[0])
    for name, row in coords.iterrows():
        ax.annotate(str(name), (row["x"], row["y"]), fontsize=8, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("contribution to overall heterogeneity")
    ax.set_ylabel("influence on pooled estimate")
    if title:
        ax.set_title(title)
    return fig


def gosh_plot(gosh_frame, *, highlight=None, title=None):
    """GOSH plot: pooled estimate against I2 for every subset; ``highlight`` (a study label)
    colours the subsets that contain that study."""
    fig, ax = _figure(7, 5)
    g = gosh_frame
    if highlight is None:
        ax.scatter(g["estimate"], g["i2"], s=2, alpha=0.3, color=PALETTE[0], rasterized=True)
    else:
        inside = g[highlight].to_numpy(bool)
        ax.scatter(g.loc[~inside, "estimate"], g.loc[~inside, "i2"], s=2, alpha=0.3,
                   color=PALETTE[0], rasterized=True, label=f"without {highlight}")
        ax.scatter(g.loc[inside, "estimate"], g.loc[inside, "i2"], s=2, alpha=0.3,
                   color=PALETTE[3], rasterized=True, label=f"with {highlight}")
        ax.legend(markerscale=5, fontsize=8)
    ax.set_xlabel("pooled estimate of the subset")
    ax.set_ylabel("I$^2$ of the subset (%)")
    if title:
        ax.set_title(title)
    return fig


def leave_one_out_plot(loo, *, fit=None, xlabel="pooled Hedges' g without the study", title=None):
    """Leave-one-out estimates with CIs, one row per omitted study."""
    k = len(loo)
    fig, ax = _figure(7, 1 + 0.35 * (k + 1))
    rows = np.arange(k)[::-1]
    ax.hlines(rows, loo["ci_low"], loo["ci_high"], color="0.3")
    ax.scatter(loo["estimate"], rows, color=PALETTE[0], zorder=3)
    if fit is not None:
        ax.axvline(fit.estimate, color=PALETTE[3], ls=":", label="all studies")
        ax.axvspan(fit.ci_low, fit.ci_high, color=PALETTE[3], alpha=0.08)
        ax.legend(fontsize=8)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(rows, [f"without {s}" for s in loo.index])
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return fig


def estimates_plot(table, *, estimate="estimate", low="ci_low", high="ci_high", label="label",
                   color=None, xlabel="SMD (negative = improvement)", title=None):
    """Point estimates with intervals from a table (for published-vs-book and umbrella plots)."""
    k = len(table)
    fig, ax = _figure(8.5, 1 + 0.4 * (k + 1))
    rows = np.arange(k)[::-1]
    colors = [PALETTE[0]] * k if color is None else [PALETTE[c] for c in table[color]]
    ax.hlines(rows, table[low], table[high], colors=colors)
    ax.scatter(table[estimate], rows, color=colors, zorder=3)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(rows, list(table[label]))
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return fig


def close(fig) -> None:
    """Release a figure's memory (for loops that make many figures)."""
    plt.close(fig)


__all__ = ["forest_plot", "funnel_plot", "baujat_plot", "gosh_plot", "leave_one_out_plot",
           "estimates_plot", "close"]
