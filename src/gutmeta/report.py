"""Formatting: numbers for prose (``gutmeta.display.prose``), and metafor-like printouts of the result objects."""
from __future__ import annotations

import math

MINUS = "\u2212"


def _num(x: float, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    s = f"{float(x):.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s) == 0 else MINUS + s[1:]
    return s


def fmt_est(x: float, digits: int = 2) -> str:
    """A point estimate with a typographic minus: ``fmt_est(-1.764) == '−1.76'``."""
    return _num(x, digits)


def fmt_ci(low: float, high: float, digits: int = 2) -> str:
    """A confidence interval: ``fmt_ci(-2.42, -1.1) == '[−2.42, −1.10]'``."""
    return f"[{_num(low, digits)}, {_num(high, digits)}]"


def fmt_p(p: float, digits: int = 3) -> str:
    """A p-value as text for prose: ``p = 0.032``, ``p < 0.001``."""
    if p is None or math.isnan(p):
        return "p = NA"
    floor = 10 ** (-digits)
    if p < floor:
        return f"p < {floor:.{digits}f}"
    return f"p = {p:.{digits}f}"


def fmt_pct(x: float, digits: int = 1) -> str:
    """A percentage: ``fmt_pct(96.29) == '96.3%'``."""
    return f"{_num(x, digits)}%"


def _pval_cell(p: float) -> str:
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def format_pool(r) -> str:
    """Print a :class:`~gutmeta.pooling.PoolResult` as metafor's ``print.rma.uni`` does."""
    if r.method == "EE":
        head = f"Equal-Effects Model (k = {r.k})"
    else:
        head = f"Random-Effects Model (k = {r.k}; tau^2 estimator: {r.method})"
    lines = [head, ""]
    if r.method != "EE":
        lo, hi = r.tau2_ci
        lines += [
            f"tau^2 (estimated amount of total heterogeneity): {r.tau2:.4f}",
            f"  {int(r.level * 100)}% CI (Q-profile):                   {lo:.4f} to {hi:.4f}",
            f"tau (square root of estimated tau^2 value):      {r.tau:.4f}",
        ]
    lines += [
        f"I^2 (total heterogeneity / total variability):   {r.i2:.2f}%",
        f"H^2 (total variability / sampling variability):  {r.h2:.2f}",
        "",
        "Test for Heterogeneity:",
        f"Q(df = {r.q_df}) = {r.q:.4f}, p-val {'< .0001' if r.q_pvalue < 1e-4 else '= ' + format(r.q_pvalue, '.4f')}",
        "",
        "Model Results:",
        "",
    ]
    stat = "zval" if r.test == "z" else "tval"
    lines.append(f"{'estimate':>9} {'se':>8} {stat:>8} {'pval':>8} {'ci.lb':>8} {'ci.ub':>8}")
    lines.append(f"{r.estimate:9.4f} {r.se:8.4f} {r.statistic:8.4f} {_pval_cell(r.pvalue):>8} "
                 f"{r.ci_low:8.4f} {r.ci_high:8.4f}")
    if r.test == "knha":
        lines.append(f"(Knapp-Hartung adjustment; t-distribution with {r.df:.0f} df)")
    lines.append(f"prediction interval: {r.pi_low:.4f} to {r.pi_high:.4f}")
    if not r.converged:
        lines.append("WARNING: the tau^2 estimator did not converge")
    return "\n".join(lines)


def format_regression(r) -> str:
    """Print a :class:`~gutmeta.regression.MetaRegressionResult` like metafor."""
    kind = "F" if r.test == "knha" else "QM"
    lines = [f"Mixed-Effects Model (k = {r.k}; tau^2 estimator: {r.method})", "",
             f"tau^2 (estimated amount of residual heterogeneity):     {r.tau2:.4f}",
             f"I^2 (residual heterogeneity / unaccounted variability): {r.i2:.2f}%",
             f"R^2 (amount of heterogeneity accounted for):            {r.r2:.2f}%", "",
             f"Test for Residual Heterogeneity: QE(df = {r.qe_df}) = {r.qe:.4f}, p-val = {r.qe_pvalue:.4f}",
             f"Test of Moderators: {kind}(df = {r.qm_df}) = {r.qm:.4f}, p-val = {r.qm_pvalue:.4f}", ""]
    lines.append(f"{'':12} {'estimate':>9} {'se':>8} {'stat':>8} {'pval':>8} {'ci.lb':>8} {'ci.ub':>8}")
    for i, name in enumerate(r.names):
        lines.append(f"{name[:12]:12} {r.coef[i]:9.4f} {r.se[i]:8.4f} {r.statistic[i]:8.4f} "
                     f"{_pval_cell(r.pvalue[i]):>8} {r.ci_low[i]:8.4f} {r.ci_high[i]:8.4f}")
    return "\n".join(lines)


def format_subgroups(r) -> str:
    """Print a :class:`~gutmeta.subgroups.SubgroupResult`."""
    lines = [f"Subgroup analysis (tau^2 estimator: {r.method}, separate tau^2 per group)", ""]
    lines.append(f"{'group':20} {'k':>3} {'estimate':>9} {'ci.lb':>8} {'ci.ub':>8} {'tau2':>8} {'I2':>7}")
    for g, row in r.table.iterrows():
        lines.append(f"{str(g)[:20]:20} {int(row.k):3d} {row.estimate:9.4f} {row.ci_low:8.4f} "
                     f"{row.ci_high:8.4f} {row.tau2:8.4f} {row.i2:6.1f}%")
    lines += ["", f"Test for subgroup differences: Q_b(df = {r.df}) = {r.q_between:.4f}, "
                  f"p-val = {r.pvalue:.4f}"]
    if r.qm is not None:
        lines.append(f"Moderator test, common tau^2 = {r.tau2_common:.4f}: QM(df = {r.qm_df}) = "
                     f"{r.qm:.4f}, p-val = {r.qm_pvalue:.4f}")
    return "\n".join(lines)


def format_egger(r) -> str:
    """Print an :class:`~gutmeta.bias.EggerResult` as metafor's ``regtest`` does."""
    model = ("mixed-effects meta-regression model" if r.model == "rma"
             else "weighted regression with multiplicative dispersion")
    stat = "t" if r.test in ("knha", "t") else "z"
    df = f" (df = {r.df:.0f})" if stat == "t" else ""
    lo, hi = r.limit_ci
    return "\n".join([
        "Regression Test for Funnel Plot Asymmetry", "",
        f"Model:     {model}", "Predictor: standard error", "",
        f"Test for Funnel Plot Asymmetry: {stat} = {r.statistic:.4f}{df}, p = {r.pvalue:.4f}",
        f"Limit Estimate (as sei -> 0):   b = {r.limit_estimate:.4f} (CI: {lo:.4f}, {hi:.4f})",
    ])


def format_rank(r) -> str:
    """Print a :class:`~gutmeta.bias.RankTestResult` as metafor's ``ranktest`` does."""
    kind = "exact" if r.exact else "normal approximation"
    return "\n".join(["Rank Correlation Test for Funnel Plot Asymmetry", "",
                      f"Kendall's tau = {r.tau:.4f}, p = {r.pvalue:.4f} ({kind})"])


def format_trimfill(r) -> str:
    """Print a :class:`~gutmeta.bias.TrimFillResult` as metafor's ``trimfill`` does."""
    head = (f"Estimated number of missing studies on the {r.side} side: {r.k0} "
            f"(SE = {r.se_k0:.4f}; estimator {r.estimator})")
    return head + "\n\n" + format_pool(r.fit)


def format_pet_peese(r) -> str:
    """Print a :class:`~gutmeta.bias.PetPeeseResult`."""
    return "\n".join([
        "PET-PEESE (weighted least squares, weights 1/vi)", "",
        f"PET   intercept (y ~ sei): {r.pet:.4f} (SE = {r.pet_se:.4f}), p = {r.pet_pvalue:.4f}",
        f"PEESE intercept (y ~ vi):  {r.peese:.4f} (SE = {r.peese_se:.4f}), p = {r.peese_pvalue:.4f}",
        f"Conditional estimate ({r.chosen}): {r.estimate:.4f}",
    ])
