"""Interactive explorers (ipywidgets) for the pooling, heterogeneity and subgroup chapters.

Each explorer holds its state in widgets, computes with the package's functions and shows a
figure and a one-line summary. ``static_figure()`` draws the default state, for the static
HTML, where widgets have no kernel. Tests drive the explorers by setting widget values.
"""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from . import plots
from .pooling import METHODS_FOR_UI, pool
from .report import fmt_ci, fmt_est, fmt_pct
from .subgroups import subgroups


class _Explorer:
    """Shared parts: an estimator menu, a test toggle and one tick box per study."""

    def __init__(self, table: pd.DataFrame, *, method="REML", test="z"):
        if table.empty:
            raise ValueError("the explorer needs at least one study")
        self.table = table.reset_index(drop=True)
        self.method = widgets.Dropdown(options=METHODS_FOR_UI, value=method, description="tau² estimator")
        self.test = widgets.ToggleButtons(options=["z", "knha"], value=test, description="test")
        self.studies = [widgets.Checkbox(value=True, description=f"{r.study} ({r.comparison})", indent=False)
                        for r in self.table.itertuples()]
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        for w in [self.method, self.test, *self.studies]:
            w.observe(self.update, names="value")

    def selected(self) -> pd.DataFrame:
        keep = [cb.value for cb in self.studies]
        return self.table[keep]

    def fit(self):
        """The pooled result for the current state, or None with the reason in ``summary``."""
        sel = self.selected()
        need = 2 if self.test.value == "knha" else 1
        if len(sel) < need:
            return None
        return pool(sel["yi"], sel["vi"], method=self.method.value, test=self.test.value, labels=sel["study"])

    def describe(self, fit) -> str:
        if fit is None:
            return "Too few studies ticked for this test."
        return (f"k = {fit.k}: pooled g = {fmt_est(fit.estimate)} {fmt_ci(fit.ci_low, fit.ci_high)}, "
                f"tau² = {fit.tau2:.3f}, I² = {fmt_pct(fit.i2)}, "
                f"95% prediction interval {fmt_ci(fit.pi_low, fit.pi_high)}")

    def figure(self, fit):
        sel = self.selected()
        if fit is None or sel.empty:
            return None
        return plots.forest_plot(sel["yi"], sel["vi"], labels=sel["study"], fit=fit)

    def update(self, *_):
        fit = self.fit()
        self.result = fit
        self.summary.value = self.describe(fit)
        self.output.clear_output(wait=True)
        fig = self.figure(fit)
        if fig is not None:
            with self.output:
                display(fig)
            plt.close(fig)

    def static_figure(self):
        """The default state as an ordinary figure (for the static HTML)."""
        return self.figure(self.fit())

    @property
    def widget(self):
        self.update()
        controls = widgets.VBox([self.method, self.test, widgets.Label("studies:"), *self.studies])
        return widgets.VBox([controls, self.summary, self.output])


class PoolingExplorer(_Explorer):
    """Choose the estimator and test, tick studies in or out, see the forest plot update."""


class HeterogeneityExplorer(_Explorer):
    """Same controls; the summary spells out heterogeneity and the prediction interval."""

    def describe(self, fit) -> str:
        if fit is None:
            return "Too few studies ticked for this test."
        lo, hi = fit.tau2_ci
        return (f"k = {fit.k}: Q = {fit.q:.2f} (df = {fit.q_df}), I² = {fmt_pct(fit.i2)}, "
                f"tau² = {fit.tau2:.3f} [{lo:.3f}, {hi:.3f}], "
                f"prediction interval {fmt_ci(fit.pi_low, fit.pi_high)}")


class SubgroupExplorer(_Explorer):
    """Choose a moderator column; see the subgroup estimates and the test of difference."""

    def __init__(self, table: pd.DataFrame, moderators, *, method="REML", test="z"):
        super().__init__(table, method=method, test=test)
        self.moderator = widgets.Dropdown(options=list(moderators), value=list(moderators)[0],
                                          description="moderator")
        self.moderator.observe(self.update, names="value")

    def fit(self):
        sel = self.selected()
        groups = sel[self.moderator.value].astype(str)
        if len(sel) < 2 or groups.nunique() < 2:
            return None
        return subgroups(sel["yi"], sel["vi"], groups, method=self.method.value, test="z")

    def describe(self, fit) -> str:
        if fit is None:
            return "Fewer than two subgroups among the ticked studies: no test of difference is possible."
        parts = [f"{g}: {fmt_est(r.estimate)} (k = {int(r.k)})" for g, r in fit.table.iterrows()]
        return "; ".join(parts) + f". Q_between = {fit.q_between:.2f}, df = {fit.df}, p = {fit.pvalue:.3f}"

    def figure(self, fit):
        if fit is None:  # one subgroup only: show the trials, labelled by their level
            sel = self.selected()
            if sel.empty:
                return None
            labels = sel["study"] + " [" + sel[self.moderator.value].astype(str) + "]"
            return plots.forest_plot(sel["yi"], sel["vi"], labels=labels,
                                     title=f"{self.moderator.value}: a single subgroup")
        t = fit.table.reset_index()
        t["label"] = [f"{g} (k = {int(k)})" for g, k in zip(t["group"], t["k"])]
        return plots.estimates_plot(t, title=f"Subgroups by {self.moderator.value}")

    @property
    def widget(self):
        self.update()
        controls = widgets.VBox([self.moderator, self.method, widgets.Label("studies:"), *self.studies])
        return widgets.VBox([controls, self.summary, self.output])
