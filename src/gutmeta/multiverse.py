"""Multiverse analysis: every combination of defensible choices, counted honestly.

The choices of the evidence-to-effect step (:class:`gutmeta.extract.Choices`: which routes,
which scale, how to read a "±") decide which numbers enter; the choices of the pooling step
(tau2 estimator, z or Knapp-Hartung) decide how they are combined. A specification curve
(Simonsohn, Simmons & Nelson 2020, Nat Hum Behav 4:1208; Steegen et al. 2016, Perspect Psychol
Sci 11:702) shows the results.

Many specifications produce the same analysis: a choice about a kind of number that no trial
prints changes nothing. So specifications are collapsed to *distinct analyses* (the same
effect rows, the same estimator, the same test) and each distinct analysis counts once.
Analyses of a single trial are not meta-analyses; they are reported apart.

How it is computed: a trial's effect depends only on the choices that touch the kinds of
numbers it prints (:func:`relevant_choices`), so each trial is evaluated once per combination
of its relevant choices, and a specification is the tuple of its trials' variants.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import extract
from .evidence import Evidence
from .extract import Choices
from .pooling import fit_model

DATA_GRID = {
    "scale_order": ["clinician_first", "self_first"],
    "prefer": ["post", "change"],
    "unlabelled_as": ["SD", "SE", "exclude"],
    "include_derived": [True, False],
    "use_responders": [True, False],
    "use_bounds": [True, False],
    "undirected": ["zero", "words", "exclude"],
    "total_split": ["assumed", "stated", "none"],
    "impute_sd": [True, False],
    "include_secondary": [False, True],
    "include_cointervention": [False, True],
    "exclude_open_label": [False, True],
    "exclude_high_risk": [False, True],
    "multi_arm": ["split", "combine"],
}
POOL_GRID = {"method": ["REML", "DL", "PM", "ML", "SJ", "HE", "EE"], "test": ["z", "knha"]}
ELIGIBILITY = ("include_cointervention", "exclude_open_label", "exclude_high_risk")


def relevant_choices(ev: Evidence, trial_id: str, outcome: str, fields) -> list[str]:
    """The per-trial choices among ``fields`` that can change this trial's effect.

    A choice is relevant only when the trial prints the kind of number it is about (a "±"
    without a label, responder counts, a bound, a total without arm sizes, ...). The rule is a
    superset of the code paths in :mod:`gutmeta.extract` that read the choice; a test checks it
    against brute force.
    """
    o = ev.outcomes[(ev.outcomes.trial_id == trial_id) & (ev.outcomes.outcome == outcome)]
    r = ev.reported_effects[(ev.reported_effects.trial_id == trial_id) & (ev.reported_effects.outcome == outcome)]
    s = ev.responders[(ev.responders.trial_id == trial_id) & (ev.responders.outcome == outcome)]
    t = ev.trials.set_index("trial_id").loc[trial_id]
    raters = set(o.rater) | set(r.rater) | set(s.rater)
    secondary = any(f["locator"].str.startswith("secondary:").any() for f in (o, r, s))
    no_spread = (o.spread_kind == "").any()
    test = {
        "scale_order": len(raters) > 1,
        "prefer": o.timepoint.isin(["post"]).any() and o.timepoint.isin(["change"]).any(),
        "unlabelled_as": (o.spread_kind == "unlabelled").any(),
        "include_derived": r.statistic.isin(extract.EXACT).any(),
        "use_responders": not s.empty,
        "use_bounds": r.statistic.isin(["p_bound", "d_range"]).any(),
        "undirected": (r.favours == "unclear").any(),
        "total_split": bool(np.isfinite(t["n_total_rand"]) or np.isfinite(t["n_total_anal"])),
        "impute_sd": no_spread,
        "include_secondary": secondary or t["n_arm_secondary"] == "yes" or no_spread,
        "multi_arm": o[o.arm_role == "treatment"].arm.nunique() > 1 or s[s.arm_role == "treatment"].arm.nunique() > 1,
    }
    return [f for f in fields if test.get(f, True)]


@dataclass(frozen=True)
class Multiverse:
    """The specifications and the distinct analyses they collapse to.

    ``specs``: one row per data specification (the choices, ``evidence_id``, ``k``).
    ``evidence``: one row per distinct set of effect rows (``evidence_id``, ``k``, ``studies``, and
    the tuples ``yi``, ``vi``).
    ``analyses``: one row per distinct analysis (``evidence_id`` x ``method`` x ``test``) with
    the pooled result, ``n_specs`` (how many specifications produce it) and ``single_trial``.
    """

    outcome: str
    specs: pd.DataFrame
    evidence: pd.DataFrame
    analyses: pd.DataFrame
    n_pool: int

    @property
    def n_specifications(self) -> int:
        return len(self.specs) * self.n_pool

    def meta_analyses(self) -> pd.DataFrame:
        """Distinct analyses of two or more trials that could be run."""
        a = self.analyses
        return a[(a["k"] >= 2) & a["estimate"].notna()]

    def share_excluding_zero(self) -> float:
        """Share of distinct meta-analyses (k >= 2) whose CI excludes 0 (each counts once)."""
        m = self.meta_analyses()
        return float(m["excludes_zero"].mean()) if len(m) else np.nan


def _variants(ev: Evidence, outcome: str, grid: dict):
    """Per trial: its relevant fields and a map from their values to a variant id."""
    per_fields = [f for f in grid if f not in ELIGIBILITY]
    base = Choices(outcome=outcome)
    rows: dict = {}        # (trial, variant id) -> tuple of effect rows
    table: dict = {}       # trial -> (fields, {values: variant id})
    for trial_id in ev.trials.loc[ev.trials.eligible.eq("yes") | ev.trials.exclusion_code.eq("co_intervention"),
                                  "trial_id"]:
        fields = relevant_choices(ev, trial_id, outcome, per_fields)
        ids: dict = {}
        seen: dict = {}
        for values in itertools.product(*(grid[f] for f in fields)):
            ch = extract._per_trial(replace(base, **dict(zip(fields, values))))
            out = extract._trial_result(ev, trial_id, outcome, ch)[1]
            key = tuple((r["comparison"], r["yi"], r["vi"]) for r in out)
            if key not in seen:
                seen[key] = len(seen)
                rows[(trial_id, seen[key])] = out
            ids[values] = seen[key]
        table[trial_id] = (fields, ids)
    return table, rows


def run(ev: Evidence, *, outcome="depression", data_grid=None, pool_grid=None) -> Multiverse:
    """Every data specification x every pooling specification, collapsed to distinct analyses."""
    grid = DATA_GRID if data_grid is None else data_grid
    pool_grid = POOL_GRID if pool_grid is None else pool_grid
    table, rows = _variants(ev, outcome, grid)
    names = list(grid)
    # every data specification as a row of level indices (the full factorial, in grid order)
    codes = np.stack(np.meshgrid(*[np.arange(len(grid[f])) for f in names], indexing="ij"), -1).reshape(-1, len(names))
    col = {f: j for j, f in enumerate(names)}
    # per trial, the variant each specification gives it (-1: not eligible, or no usable numbers)
    trials = list(table)
    variant = np.full((len(codes), len(trials)), -1, dtype=np.int64)
    for t, trial_id in enumerate(trials):
        fields, ids = table[trial_id]
        shape = [len(grid[f]) for f in fields]
        lookup = np.full(int(np.prod(shape)) if shape else 1, -1, dtype=np.int64)
        for values, vid in ids.items():
            idx = np.ravel_multi_index([grid[f].index(v) for f, v in zip(fields, values)], shape) if shape else 0
            lookup[idx] = vid if rows[(trial_id, vid)] else -1
        pos = np.ravel_multi_index([codes[:, col[f]] for f in fields], shape) if shape else np.zeros(len(codes), int)
        variant[:, t] = lookup[pos]
    # eligibility (co-intervention, open-label, high risk) removes trials
    for elig in itertools.product(*[[False, True]] * len(ELIGIBILITY)):
        ch = replace(Choices(outcome=outcome), **dict(zip(ELIGIBILITY, elig)))
        keep = set(extract._eligible(ev, ch))
        sel = np.ones(len(codes), dtype=bool)
        for f, v in zip(ELIGIBILITY, elig):
            sel &= (np.array(grid[f])[codes[:, col[f]]] == v) if f in col else (not v)
        drop = [t for t, trial_id in enumerate(trials) if trial_id not in keep]
        if drop and sel.any():
            variant[np.ix_(np.flatnonzero(sel), drop)] = -1
    keys, evidence_id = np.unique(variant, axis=0, return_inverse=True)
    evidence_rows = []
    for e, key in enumerate(keys):
        effects = [r for t, vid in enumerate(key) if vid >= 0 for r in rows[(trials[t], int(vid))]]
        evidence_rows.append({"evidence_id": e, "k": len(effects), "studies": "; ".join(r["study"] for r in effects),
                              "yi": tuple(r["yi"] for r in effects), "vi": tuple(r["vi"] for r in effects)})
    evidence = pd.DataFrame(evidence_rows)
    specs = pd.DataFrame({f: np.array(grid[f], dtype=object)[codes[:, j]] for j, f in enumerate(names)})
    specs["evidence_id"] = evidence_id.ravel()
    specs["k"] = evidence["k"].to_numpy()[specs["evidence_id"]]
    n_specs = specs["evidence_id"].value_counts()
    results = []
    for e in evidence.itertuples():
        for method, test in itertools.product(pool_grid["method"], pool_grid["test"]):
            row = {"evidence_id": e.evidence_id, "k": e.k, "studies": e.studies, "method": method, "test": test,
                   "n_specs": int(n_specs.get(e.evidence_id, 0)), "single_trial": e.k == 1}
            if e.k >= (2 if test == "knha" else 1):
                try:
                    fit = fit_model(np.array(e.yi), np.array(e.vi), method=method, test=test)
                except ValueError as err:  # e.g. knha when every effect is fitted exactly
                    row["not_run"] = str(err)
                else:
                    row.update(estimate=float(fit.beta[0]), ci_low=float(fit.ci_low[0]),
                               ci_high=float(fit.ci_high[0]), pvalue=float(fit.pvalue[0]), tau2=fit.tau2,
                               i2=fit.i2)
            elif e.k >= 1:
                row["not_run"] = "knha needs two or more trials"
            results.append(row)
    analyses = pd.DataFrame(results)
    for col_name in ("estimate", "ci_low", "ci_high", "pvalue", "tau2", "i2", "not_run"):
        if col_name not in analyses:
            analyses[col_name] = np.nan
    analyses["excludes_zero"] = (analyses["ci_high"] < 0) | (analyses["ci_low"] > 0)
    n_pool = int(np.prod([len(v) for v in pool_grid.values()]))
    return Multiverse(outcome=outcome, specs=specs, evidence=evidence, analyses=analyses, n_pool=n_pool)


def choice_effects(mv: Multiverse) -> pd.DataFrame:
    """For each data choice and level: how many specifications, how many distinct evidence sets,
    and the median estimate (REML, z) over the distinct meta-analyses those specifications reach."""
    reml = mv.meta_analyses().query("method == 'REML' and test == 'z'").set_index("evidence_id")
    rows = []
    for field in [c for c in mv.specs.columns if c in DATA_GRID]:
        for value, sub in mv.specs.groupby(field, sort=False):
            ids = sub["evidence_id"].unique()
            est = reml.reindex(ids)["estimate"].dropna()
            rows.append({"choice": field, "value": str(value), "specifications": len(sub) * mv.n_pool,
                         "evidence_sets": len(ids), "median_estimate": float(est.median()) if len(est) else np.nan})
    return pd.DataFrame(rows)


def curve_plot(analyses: pd.DataFrame, *, title=None):
    """Specification curve over distinct meta-analyses: estimates with CIs sorted, and under them
    the estimator, the test and the number of trials of each."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = analyses.dropna(subset=["estimate"]).sort_values("estimate").reset_index(drop=True)
    levels = ([("method", m) for m in POOL_GRID["method"]] + [("test", t) for t in POOL_GRID["test"]]
              + [("k", k) for k in sorted(ok["k"].unique())])
    with sns.axes_style("whitegrid"):
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 4 + 0.16 * len(levels)), sharex=True,
                                      gridspec_kw={"height_ratios": [2, max(1, len(levels) / 8)]},
                                      layout="constrained")
    x = np.arange(len(ok))
    colors = np.where(ok["excludes_zero"], "#0072B2", "#999999")
    ax.vlines(x, ok["ci_low"].clip(lower=-5), ok["ci_high"].clip(upper=5), colors=colors, lw=0.8, alpha=0.7)
    ax.scatter(x, ok["estimate"], s=6, c=colors, zorder=3)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("pooled SMD (95% CI, clipped at ±5)")
    if title:
        ax.set_title(title)
    for j, (c, v) in enumerate(levels):
        on = ok[c].astype(str) == str(v)
        ax2.scatter(x[on], np.full(on.sum(), j), s=4, marker="|", color="0.2")
    ax2.set_yticks(range(len(levels)), [f"{c} = {v}" for c, v in levels], fontsize=7)
    ax2.set_xlabel("distinct meta-analyses (k ≥ 2), sorted by estimate; blue: 95% CI excludes 0")
    ax2.invert_yaxis()
    return fig
