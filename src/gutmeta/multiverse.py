"""Multiverse analysis: every combination of defensible choices, pooled and sorted.

The choices of the evidence-to-effect step (:class:`gutmeta.extract.Choices`) decide which
numbers enter; the choices of the pooling step (tau2 estimator, z or Knapp-Hartung) decide how
they are combined. A specification curve (Simonsohn, Simmons & Nelson 2020, Nat Hum Behav
4:1208; Steegen et al. 2016, Perspect Psychol Sci 11:702) shows all results at once.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd

from .evidence import Evidence
from .extract import Choices, effect_table
from .pooling import pool

DATA_GRID = {
    "scale_order": ["clinician_first", "self_first"],
    "prefer": ["post", "change"],
    "unlabelled_as": ["SD", "SE", "exclude"],
    "include_derived": [True, False],
    "include_cointervention": [False, True],
    "exclude_open_label": [False, True],
    "exclude_high_risk": [False, True],
    "multi_arm": ["split", "combine"],
}
POOL_GRID = {"method": ["REML", "DL", "PM", "ML", "SJ", "HE", "EE"], "test": ["z", "knha"]}


def specifications(ev: Evidence, *, outcome="depression", data_grid=None, pool_grid=None):
    """Pool every specification; one row per specification.

    Columns: the choices, ``k``, ``estimate``, ``ci_low``, ``ci_high``, ``pvalue``, ``tau2``,
    ``i2``, ``excludes_zero`` and ``studies`` (the trials used). Specifications whose evidence
    holds fewer studies than the test needs (1 for z, 2 for knha) are kept with ``k`` and
    NaN results, so the count of what could not be run is visible.
    """
    data_grid = DATA_GRID if data_grid is None else data_grid
    pool_grid = POOL_GRID if pool_grid is None else pool_grid
    base = Choices(outcome=outcome)
    rows = []
    fits = {}  # many specifications pool the same evidence: fit each (evidence, method, test) once
    dnames = list(data_grid)
    for values in itertools.product(*data_grid.values()):
        choice = dict(zip(dnames, values))
        table = effect_table(ev, replace(base, **choice))
        k = len(table)
        studies = "; ".join(table["study"])
        evidence_key = (tuple(table["yi"]), tuple(table["vi"]))
        for method, test in itertools.product(pool_grid["method"], pool_grid["test"]):
            row = {**choice, "method": method, "test": test, "k": k, "studies": studies}
            if k >= (2 if test == "knha" else 1):
                key = (evidence_key, method, test)
                if key not in fits:
                    fits[key] = pool(table["yi"], table["vi"], method=method, test=test)
                fit = fits[key]
                row.update(estimate=fit.estimate, ci_low=fit.ci_low, ci_high=fit.ci_high,
                           pvalue=fit.pvalue, tau2=fit.tau2, i2=fit.i2)
            else:
                row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, pvalue=np.nan, tau2=np.nan,
                           i2=np.nan)
            rows.append(row)
    out = pd.DataFrame(rows)
    out["excludes_zero"] = (out["ci_high"] < 0) | (out["ci_low"] > 0)
    return out


def distinct_evidence_sets(specs: pd.DataFrame) -> int:
    """How many different sets of trials the specifications pooled."""
    return specs.loc[specs["k"] > 0, "studies"].nunique()


def curve_plot(specs: pd.DataFrame, *, choices=None, title=None):
    """Specification curve: estimates with CIs sorted, and the choices of each underneath."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = specs.dropna(subset=["estimate"]).sort_values("estimate").reset_index(drop=True)
    choices = choices or ["method", "test", "unlabelled_as", "include_derived", "include_cointervention",
                          "exclude_open_label", "exclude_high_risk", "scale_order", "prefer", "multi_arm"]
    levels = [(c, v) for c in choices for v in sorted(ok[c].astype(str).unique())]
    with sns.axes_style("whitegrid"):
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 4 + 0.18 * len(levels)), sharex=True,
                                      gridspec_kw={"height_ratios": [2, max(1, len(levels) / 10)]},
                                      layout="constrained")
    x = np.arange(len(ok))
    colors = np.where(ok["excludes_zero"], "#0072B2", "#999999")
    ax.vlines(x, ok["ci_low"].clip(lower=-5), ok["ci_high"].clip(upper=5), colors=colors, lw=0.6, alpha=0.6)
    ax.scatter(x, ok["estimate"], s=4, c=colors, zorder=3)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("pooled SMD (95% CI, clipped at ±5)")
    if title:
        ax.set_title(title)
    for j, (c, v) in enumerate(levels):
        on = ok[c].astype(str) == v
        ax2.scatter(x[on], np.full(on.sum(), j), s=2, marker="|", color="0.2")
    ax2.set_yticks(range(len(levels)), [f"{c} = {v}" for c, v in levels], fontsize=7)
    ax2.set_xlabel("specifications, sorted by estimate")
    ax2.invert_yaxis()
    return fig
