"""Subgroup analysis: one pooled estimate per group and the test for their difference."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import _checks
from .pooling import pool
from .regression import meta_regression


@dataclass(frozen=True)
class SubgroupResult:
    """Per-group pooled estimates (``table``) and two tests of difference.

    ``q_between``/``df``/``pvalue``: Cochran's Q across the group estimates, each group with
    its own tau2 (the default of R's ``meta::metagen(..., subgroup=)`` for random effects).
    ``qm``/``qm_pvalue``/``tau2_common``: the mixed-effects moderator test with one tau2 shared
    by all groups (``metafor::rma(yi, vi, mods=~factor(group))``); None with fewer than
    two groups of studies.
    """

    table: pd.DataFrame
    q_between: float
    df: int
    pvalue: float
    qm: float | None
    qm_df: int | None
    qm_pvalue: float | None
    tau2_common: float | None
    method: str
    test: str

    def __str__(self) -> str:
        from .report import format_subgroups

        return format_subgroups(self)


def subgroups(yi, vi, groups, *, method="REML", test="z", level=0.95, labels=None):
    """Pool within each subgroup and test whether the subgroup estimates differ.

    Notes
    -----
    ``Q_b = sum_g (b_g - b_bar)^2 / se_g^2`` with ``b_bar`` the inverse-variance mean of the
    group estimates, referred to chi2(G - 1) (Borenstein et al. 2009, ch. 19; Cochrane
    Handbook 10.11.3.1). A group with one study keeps its own estimate and variance
    (tau2 = 0 within it; with ``test="knha"`` its fit uses the z test, as metafor's). Groups are
    reported in sorted order. ``groups`` may be a pandas Series: it is paired with ``yi`` by
    index. Numeric labels are grouped by value (``1`` and ``1.0`` are one group); a missing
    label is an error naming the study.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    g = _checks.group_labels(groups, labs, _checks.index_of(yi))
    levels = sorted(set(g))
    if len(levels) < 2:
        raise ValueError("subgroups needs at least two groups")
    rows = []
    centre = float(np.median(y))
    ec = []  # group estimates of the centred effects: Q_b without losing digits to an offset
    for lev in levels:
        m = g == lev
        # Knapp-Hartung needs k >= 2: a one-study group is fitted with the z test, as metafor's
        # rma() does when k = 1 (it sets test="z" with a warning) and the call goes on
        t = "z" if m.sum() == 1 else test
        r = pool(y[m], v[m], method=method, test=t, level=level)
        rows.append({"group": lev, "k": r.k, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "pvalue": r.pvalue, "tau2": r.tau2, "i2": r.i2,
                     "q": r.q, "pi_low": r.pi_low, "pi_high": r.pi_high})
        ec.append(r.estimate - centre if centre == 0 else
                  pool(y[m] - centre, v[m], method=method, test=t, level=level).estimate)
    table = pd.DataFrame(rows).set_index("group")
    se = table["se"].to_numpy()
    w = 1 / se**2
    ec = np.asarray(ec)
    qb = float(np.sum(w * (ec - np.sum(w * ec) / np.sum(w)) ** 2))
    df = len(levels) - 1
    pb = float(stats.chi2.sf(qb, df))
    qm = qm_df = qm_p = tau2c = None
    # the common-tau2 moderator model has one coefficient per group: it needs more studies
    # than groups (metafor refuses otherwise), except the equal-effect model with the z test
    if len(y) > len(levels) or (test == "z" and _checks.method_name(method) == "EE"):
        reg = meta_regression(y, v, pd.DataFrame({"group": g}), method=method, test=test, level=level)
        qm, qm_df, qm_p, tau2c = reg.qm, reg.qm_df, reg.qm_pvalue, reg.tau2
    return SubgroupResult(table=table, q_between=qb, df=df, pvalue=pb, qm=qm, qm_df=qm_df,
                          qm_pvalue=qm_p, tau2_common=tau2c, method=_checks.method_name(method), test=test)
