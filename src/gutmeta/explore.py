"""Interactive explorers (ipywidgets) for the pooling, heterogeneity and subgroup chapters.

Each explorer holds its state in widgets, computes with the package's functions and shows a
one-line summary (``summary``, an HTML widget) and one figure (``output``, an Output widget).

Rules every explorer keeps:

* **Every update replaces what was shown.** ``output.outputs`` is set to exactly one item: the
  new figure (as a PNG), or, when nothing can be drawn, the sentence that says why. An old
  figure never stays on screen under a new message.
* **What needs more trials follows the book's one rule**, :func:`gutmeta.display.can_show`
  (e.g. Knapp-Hartung needs k >= 2; a prediction interval k >= 3; a test of subgroup
  differences at least two subgroups with at least two trials each).

``static_figure()`` draws the default state as an ordinary figure, for the static HTML, where
widgets have no kernel (None when the default state has nothing to draw). Tests drive the
explorers by setting widget values and reading ``summary.value`` and ``output.outputs``.
"""
from __future__ import annotations

import base64
import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import plots
from .display import can_show
from .pooling import METHODS_FOR_UI, pool
from .report import fmt_ci, fmt_est, fmt_pct
from .subgroups import subgroups


def _figure_output(fig) -> dict:
    """An nbformat display_data output holding ``fig`` as a PNG (works with or without a kernel)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                     "text/plain": "<figure>"}}


def _sentence_output(sentence: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<p class="gm-explorer-note">{html.escape(sentence)}</p>',
                     "text/plain": sentence}}


class _Explorer:
    """Shared parts: an estimator menu, a test toggle and one tick box per study.

    Subclasses override ``check`` (can the current state be computed? a Verdict), ``compute``,
    ``describe`` (the summary line) and ``figure``.
    """

    def __init__(self, table: pd.DataFrame, *, method="REML", test="z"):
        if table.empty:
            raise ValueError("the explorer needs at least one study")
        for col in ("study", "comparison", "yi", "vi"):
            if col not in table.columns:
                raise ValueError(f"the explorer's table needs a column {col!r}")
        self.table = table.reset_index(drop=True)
        wide = {"description_width": "initial"}         # labels in full, not cut to 90 px
        self.method = widgets.Dropdown(options=METHODS_FOR_UI, value=method, description="tau² estimator",
                                       style=wide)
        self.test = widgets.ToggleButtons(options=["z", "knha"], value=test, description="test", style=wide)
        self.studies = [widgets.Checkbox(value=True, description=f"{r.study} ({r.comparison})", indent=False,
                                         layout=widgets.Layout(width="auto"))
                        for r in self.table.itertuples()]
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        self.result = None
        self.reason = ""
        for w in [self.method, self.test, *self.studies]:
            w.observe(self.update, names="value")

    def select(self, keep) -> None:
        """Tick exactly the studies in ``keep`` (booleans, one per study, or study names), then
        update once (setting the tick boxes one by one would redraw after each)."""
        keep = list(keep)
        if keep and not isinstance(keep[0], (bool, np.bool_)):
            names = set(keep)
            unknown = names - set(self.table["study"])
            if unknown:
                raise ValueError(f"select: unknown studies {sorted(unknown)}")
            keep = [s in names for s in self.table["study"]]
        if len(keep) != len(self.studies):
            raise ValueError(f"select: {len(keep)} values for {len(self.studies)} studies")
        self._paused = True
        try:
            for cb, value in zip(self.studies, keep):
                cb.value = bool(value)
        finally:
            self._paused = False
        self.update()

    def selected(self) -> pd.DataFrame:
        keep = [cb.value for cb in self.studies]
        return self.table[keep]

    def check(self, sel):
        """A :class:`~gutmeta.display.Verdict`: can the current selection be analysed?"""
        if len(sel) == 0:
            return can_show("pool", 0)
        return can_show("knha" if self.test.value == "knha" else "pool", len(sel))

    def compute(self, sel):
        return pool(sel["yi"], sel["vi"], method=self.method.value, test=self.test.value, labels=sel["study"])

    def fit(self):
        """The result for the current state, or None (the reason is in ``self.reason``)."""
        sel = self.selected()
        verdict = self.check(sel)
        self.reason = "" if verdict else verdict.sentence
        return self.compute(sel) if verdict else None

    def _pi(self, fit) -> str:
        if not can_show("prediction_interval", fit.k):
            return "no prediction interval (it needs at least 3 trials)"
        return f"95% prediction interval {fmt_ci(fit.pi_low, fit.pi_high)}"

    def describe(self, fit) -> str:
        if fit is None:
            return self.reason
        return (f"k = {fit.k}: pooled g = {fmt_est(fit.estimate)} {fmt_ci(fit.ci_low, fit.ci_high)}, "
                f"tau² = {fit.tau2:.3f}, I² = {fmt_pct(fit.i2)}, {self._pi(fit)}")

    def figure(self, fit):
        if fit is None:
            return None
        sel = self.selected()
        return plots.forest_plot(sel["yi"], sel["vi"], labels=sel["study"], fit=fit)

    def update(self, *_):
        """Recompute, then replace the summary and the one output (figure or sentence)."""
        if getattr(self, "_paused", False):
            return
        fit = self.fit()
        self.result = fit
        self.summary.value = html.escape(self.describe(fit))
        fig = self.figure(fit)
        if fig is not None:
            self.output.outputs = (_figure_output(fig),)
        else:
            self.output.outputs = (_sentence_output(self.reason or "Nothing to draw for this choice."),)

    def static_figure(self):
        """The default state as an ordinary figure (for the static HTML), or None."""
        return self.figure(self.fit())

    def _controls(self):
        return [self.method, self.test]

    @property
    def widget(self):
        self.update()
        controls = widgets.VBox([*self._controls(), widgets.Label("studies:"), *self.studies])
        return widgets.VBox([controls, self.summary, self.output])


#: The Bayesian analyses the pooling explorer offers: label -> keyword arguments of bayes_pool.
PRIORS = {
    "none": None,
    "half-normal(0.5)": dict(tau_prior="half-normal", tau_scale=0.5),
    "half-normal(1)": dict(tau_prior="half-normal", tau_scale=1.0),
    "half-Cauchy(0.5)": dict(tau_prior="half-cauchy", tau_scale=0.5),
    "Rhodes 2015 (pharmacological)": dict(tau_prior="rhodes"),
}


class PoolingExplorer(_Explorer):
    """Choose the estimator and test, tick studies in or out, see the forest plot update.

    ``prior``: a Bayesian random-effects analysis beside the frequentist one (a prior for tau
    from :data:`PRIORS`, flat prior for mu; :func:`gutmeta.bayes.bayes_pool`); the summary adds
    its posterior median, 95% credible interval and P(mu < 0).
    """

    def __init__(self, table: pd.DataFrame, *, method="REML", test="z", prior="none"):
        super().__init__(table, method=method, test=test)
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; allowed: {', '.join(PRIORS)}")
        self.prior = widgets.Dropdown(options=list(PRIORS), value=prior, description="Bayesian prior for tau",
                                      style={"description_width": "initial"})
        self.prior.observe(self.update, names="value")
        self.bayes = None

    def describe(self, fit) -> str:
        text = super().describe(fit)
        self.bayes = None
        kwargs = PRIORS[self.prior.value]
        if fit is None or kwargs is None:
            return text
        from .bayes import bayes_pool

        sel = self.selected()
        b = bayes_pool(sel["yi"], sel["vi"], **kwargs)
        self.bayes = b
        return (f"{text}. Bayesian, tau ~ {self.prior.value}: median {fmt_est(b.mu_median)} "
                f"{fmt_ci(b.mu_low, b.mu_high)}, P(benefit) = {b.prob_benefit:.2f}")

    def _controls(self):
        return [self.method, self.test, self.prior]


class HeterogeneityExplorer(_Explorer):
    """Same controls; the summary spells out heterogeneity and the prediction interval.

    Heterogeneity needs two trials (``can_show("heterogeneity", k)``).
    """

    def check(self, sel):
        verdict = super().check(sel)
        return verdict if not verdict else can_show("heterogeneity", len(sel))

    def describe(self, fit) -> str:
        if fit is None:
            return self.reason
        lo, hi = fit.tau2_ci
        return (f"k = {fit.k}: Q = {fit.q:.2f} (df = {fit.q_df}), I² = {fmt_pct(fit.i2)}, "
                f"tau² = {fit.tau2:.3f} [{lo:.3f}, {hi:.3f}], {self._pi(fit)}")


class SubgroupExplorer(_Explorer):
    """Choose a moderator column; see the subgroup estimates and, when the rule allows, the test.

    The test of subgroup differences (Q between) runs only when ``can_show("subgroup_test",
    groups=...)`` says so: at least two subgroups, each with at least two trials. With one trial
    a subgroup's "estimate" is that trial's own result, so the test would compare trials, not
    subgroups. Otherwise the figure is a forest plot of the ticked trials labelled by their level,
    and the summary says why there is no test. ``result`` is then None.
    """

    def __init__(self, table: pd.DataFrame, moderators, *, method="REML", test="z"):
        moderators = list(moderators)
        if not moderators:
            raise ValueError("the subgroup explorer needs at least one moderator column")
        missing = [m for m in moderators if m not in table.columns]
        if missing:
            raise ValueError(f"moderator columns {missing} are not in the table")
        super().__init__(table, method=method, test=test)
        self.moderator = widgets.Dropdown(options=moderators, value=moderators[0], description="moderator",
                                          style={"description_width": "initial"})
        self.moderator.observe(self.update, names="value")

    def check(self, sel):
        if len(sel) == 0:
            return can_show("pool", 0)
        return can_show("subgroup_test", groups=sel[self.moderator.value].astype(str))

    def compute(self, sel):
        return subgroups(sel["yi"], sel["vi"], sel[self.moderator.value].astype(str),
                         method=self.method.value, test="z")

    def describe(self, fit) -> str:
        if fit is None:
            sel = self.selected()
            if sel.empty:
                return self.reason
            counts = sel[self.moderator.value].astype(str).value_counts().sort_index()
            levels = ", ".join(f"{g}: {n}" for g, n in counts.items())
            return f"Trials by {self.moderator.value}: {levels}. {self.reason}"
        parts = [f"{g}: {fmt_est(r.estimate)} (k = {int(r.k)})" for g, r in fit.table.iterrows()]
        return "; ".join(parts) + f". Q_between = {fit.q_between:.2f}, df = {fit.df}, p = {fit.pvalue:.3f}"

    def figure(self, fit):
        if fit is None:  # no test: show the trials, labelled by their level
            sel = self.selected()
            if sel.empty:
                return None
            labels = sel["study"] + " [" + sel[self.moderator.value].astype(str) + "]"
            return plots.forest_plot(sel["yi"], sel["vi"], labels=labels,
                                     title=f"Trials by {self.moderator.value} (no test of subgroup differences)")
        t = fit.table.reset_index()
        t["label"] = [f"{g} (k = {int(k)})" for g, k in zip(t["group"], t["k"])]
        return plots.estimates_plot(t, title=f"Subgroups by {self.moderator.value}")

    def _controls(self):
        return [self.moderator, self.method]
