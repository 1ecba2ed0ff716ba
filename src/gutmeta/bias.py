"""Small-study effects: funnel data, Egger's and Begg's tests, trim-and-fill, PET-PEESE.

None of these detects publication bias as such: they look for an association between effect
size and precision, which heterogeneity, outcome choice or chance can produce too (Sterne et
al. 2011, BMJ 343:d4002). With fewer than 10 studies their power is low.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from . import _checks
from .pooling import PoolResult, pool
from .regression import meta_regression


@dataclass(frozen=True)
class EggerResult:
    statistic: float
    pvalue: float
    df: float
    limit_estimate: float
    limit_ci: tuple
    model: str
    method: str
    test: str

    def __str__(self) -> str:
        from .report import format_egger

        return format_egger(self)


def _wls_free(y, v, x, what):
    """WLS of ``y`` on ``[1, x]`` with weights ``1/v`` and a free dispersion (statsmodels).

    Raises ``ValueError`` when every residual is 0 (the dispersion estimate is then 0 and
    every test would claim certainty).
    """
    c = float(np.median(y))
    res = sm.WLS(y - c, sm.add_constant(x), weights=1 / v).fit()
    scale = max(float(np.max(np.abs(y))), float(np.sqrt(np.max(v))))
    if np.all(np.abs(res.resid) <= 4096 * np.finfo(float).eps * scale):
        raise ValueError(f"{what} is undefined here: the regression line reproduces every effect "
                         "exactly (all residuals are 0, e.g. all yi equal)")
    return _Shifted(res, c)


class _Shifted:
    """A statsmodels WLS result on ``y - c``, with the intercept shifted back by ``c``."""

    def __init__(self, res, c):
        self.params = np.array(res.params, dtype=float)
        self.params[0] += c
        self.bse = np.asarray(res.bse, dtype=float)
        self.tvalues = self.params / self.bse
        self.df_resid = res.df_resid
        self.pvalues = 2 * stats.t.sf(np.abs(self.tvalues), self.df_resid)
        crit = stats.t.ppf(0.975, self.df_resid)
        self._ci = np.column_stack([self.params - crit * self.bse, self.params + crit * self.bse])

    def conf_int(self):
        return self._ci


def egger_test(yi, vi, *, method="REML", test="z", model="rma", labels=None):
    """Egger's regression test for funnel-plot asymmetry.

    ``model="rma"`` (metafor ``regtest`` default): the meta-regression
    ``y_i = b0 + b1 se_i + u_i + e_i`` with the given tau2 ``method`` and ``test``; the test is
    the z (or t) test of ``b1``; ``limit_estimate`` is ``b0``, the effect as ``se -> 0``.
    ``model="lm"``: the classical test of Egger et al. (1997, BMJ 315:629), weighted least
    squares of ``y`` on ``se`` with weights ``1/v`` and a free dispersion, t(k - 2).
    Matches ``metafor::regtest(rma(yi, vi, method=method, test=test))`` and
    ``regtest(..., model="lm")``.

    Degenerate data: when the line fits every effect exactly (for example all ``yi`` equal)
    the free dispersion is 0 and ``model="lm"`` would report p = 0; it raises ``ValueError``
    instead (as does ``test="knha"``, see :func:`gutmeta.pooling.fit_model`).
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 3:
        raise ValueError("Egger's test needs at least 3 studies")
    se = np.sqrt(v)
    if model == "rma":
        reg = meta_regression(y, v, se, method=method, test=test)
        df = float(len(y) - 2) if reg.test == "knha" else np.inf
        return EggerResult(statistic=float(reg.statistic[1]), pvalue=float(reg.pvalue[1]), df=df,
                           limit_estimate=float(reg.coef[0]),
                           limit_ci=(float(reg.ci_low[0]), float(reg.ci_high[0])),
                           model="rma", method=reg.method, test=reg.test)
    if model == "lm":
        res = _wls_free(y, v, se, "Egger's test (model='lm')")
        ci = res.conf_int()[0]
        return EggerResult(statistic=float(res.tvalues[1]), pvalue=float(res.pvalues[1]),
                           df=float(res.df_resid), limit_estimate=float(res.params[0]),
                           limit_ci=(float(ci[0]), float(ci[1])), model="lm", method="EE", test="t")
    raise ValueError(f"unknown model {model!r}; allowed: rma, lm")


@dataclass(frozen=True)
class RankTestResult:
    tau: float
    pvalue: float
    exact: bool

    def __str__(self) -> str:
        from .report import format_rank

        return format_rank(self)


def rank_test(yi, vi, *, labels=None):
    """Begg & Mazumdar (1994, Biometrics 50:1088) rank correlation test.

    Kendall's tau between the standardised effects ``(y_i - b_EE) / sqrt(v_i - 1/sum(w))`` and
    ``v_i``. As metafor's ``ranktest`` (which calls ``cor.test(..., method="kendall",
    exact=TRUE)``): the exact p-value whenever there are no ties, for any k (R's ``cor.test``
    switches to the normal approximation only because of ``exact=NULL`` at k >= 50, which
    ranktest does not use); with ties, tau-b and the normal approximation with the
    tie-corrected variance, without continuity correction. Matches ``metafor::ranktest``.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 3:
        raise ValueError("the rank test needs at least 3 studies")
    w = 1 / v
    c = float(np.median(y))
    b = c + np.sum(w * (y - c)) / np.sum(w)
    ystar = (y - b) / np.sqrt(v - 1 / np.sum(w))
    ties = len(np.unique(ystar)) < len(y) or len(np.unique(v)) < len(y)
    exact = not ties
    res = stats.kendalltau(ystar, v, method="exact" if exact else "asymptotic")
    return RankTestResult(tau=float(res.statistic), pvalue=float(res.pvalue), exact=exact)


@dataclass(frozen=True)
class TrimFillResult:
    """``k0`` studies imputed on ``side``; ``fit`` pools observed and filled studies."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    fit: PoolResult
    filled_yi: np.ndarray = field(repr=False)
    filled_vi: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        from .report import format_trimfill

        return format_trimfill(self)


def trim_and_fill(yi, vi, *, method="REML", estimator="L0", side=None, test="z", maxiter=100,
                  labels=None):
    """Duval & Tweedie (2000, Biometrics 56:455) trim-and-fill.

    Notes
    -----
    The side with missing studies, when not given, is the one opposite to the sign of the
    Egger slope (``y ~ sqrt(v)`` with the same estimator): a positive slope means small studies
    show larger effects, so studies are missing on the left. The data are mirrored so that
    missing studies are on the left, then iterated: pool the ``k - k0`` smallest effects,
    rank ``|y_i - b|``, and estimate

    * ``L0 = (4 S_r - k(k+1)) / (2k - 1)``, ``S_r`` the rank sum of positive deviations;
    * ``R0 = k - r* - 1``, ``r*`` the length of the rightmost run of positive ranks
      (computed as ``k - max rank of the negative deviations - 1``),

    rounded and truncated at 0, until ``k0`` stops changing. The ``k0`` most extreme studies
    are reflected about the last ``b`` (``2b - y_i``) and everything is pooled with the same
    ``method``. Matches ``metafor::trimfill(rma(yi, vi, method=method))``, including:

    * ranks of ``|y_i - b|`` with ties broken by position in the sorted data (R's
      ``ties.method="first"``); deviations equal to within ``1e-9`` of their scale count as
      tied, so that the last bits of ``b`` (0.09999999999999996 for an exact 0.1 with
      rounded data) do not decide the ranks, and a deviation within that tolerance of 0 has
      sign 0 (as an exact 0 has in R);
    * with ``test="knha"`` the filled data are refitted with the z test when ``k0 > 0``
      (metafor's trimfill refits without passing ``test``); with ``k0 = 0`` the original
      knha fit is returned.

    Degenerate data: when every effect equals the pooled estimate there is no asymmetry to
    correct and ``k0 = 0`` (R0's formula would impute ``k - 1`` studies).
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    k = len(y)
    if k < 3:
        raise ValueError("trim-and-fill needs at least 3 studies")
    if estimator not in ("L0", "R0"):
        raise ValueError(f"unknown estimator {estimator!r}; allowed: L0, R0")
    test = _checks.test_name(test)
    if side is None:
        if np.all(v == v[0]):
            raise ValueError("trim-and-fill cannot choose the side: every study has the same variance, "
                             "so the Egger slope that decides it is undefined; pass side='left' or "
                             "'right'")
        slope = meta_regression(y, v, np.sqrt(v), method=method).coef[1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError(f"unknown side {side!r}; allowed: left, right")
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y, kind="stable")
    ys, vs = sign * y[order], v[order]
    scale = max(float(np.max(np.abs(ys))), float(np.sqrt(np.max(vs))))
    tie_tol = 1e-9 * scale
    k0, prev, it = 0, -1, 0
    se_k0 = np.nan
    while k0 != prev:
        prev = k0
        it += 1
        if it > maxiter:
            raise RuntimeError(f"trim-and-fill did not converge in {maxiter} iterations")
        b = pool(ys[: k - k0], vs[: k - k0], method=method).estimate
        dev = ys - b
        if np.all(np.abs(dev) <= tie_tol):
            k0, se_k0 = 0, 0.0
            break
        ranks = _ranks_first(np.abs(dev), tie_tol)
        signed = np.where(np.abs(dev) <= tie_tol, 0.0, np.sign(dev)) * ranks
        if estimator == "L0":
            sr = signed[signed > 0].sum()
            est = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * est**3 + 27 * est**2 + 17 * est
                      - 18 * k * est**2 - 18 * k * est + 6 * k**2 * est) / 24
            se_k0 = 4 * np.sqrt(var_sr) / (2 * k - 1)
        else:
            neg = -signed[signed < 0]
            est = k - (neg.max() if neg.size else 0) - 1
            se_k0 = np.sqrt(2 * max(0, est) + 2)
        k0 = int(max(0, np.round(est)))
        se_k0 = max(0.0, float(se_k0))
    if k0 > 0:
        fill_y = sign * (2 * b - ys[k - k0:])
        fill_v = vs[k - k0:]
        yy, vv = np.concatenate([y, fill_y]), np.concatenate([v, fill_v])
        labs2 = list(labs) + [f"filled {i + 1}" for i in range(k0)]
        fit = pool(yy, vv, method=method, test="z", labels=labs2)
    else:
        fill_y, fill_v = np.empty(0), np.empty(0)
        fit = pool(y, v, method=method, test=test, labels=labs)
    return TrimFillResult(k0=k0, se_k0=se_k0, side=side, estimator=estimator, fit=fit,
                          filled_yi=fill_y, filled_vi=fill_v)


def _ranks_first(a: np.ndarray, tol: float) -> np.ndarray:
    """Ranks 1..n of ``a``, ties broken by position (R's ``rank(ties.method="first")``).

    Values within ``tol`` of their predecessor in sorted order are treated as equal.
    """
    order = np.argsort(a, kind="stable")
    sa = a[order]
    group = np.concatenate([[0], np.cumsum(np.diff(sa) > tol)])
    key = np.empty(len(a), dtype=np.int64)
    key[order] = group
    final = np.lexsort((np.arange(len(a)), key))
    ranks = np.empty(len(a))
    ranks[final] = np.arange(1, len(a) + 1)
    return ranks


@dataclass(frozen=True)
class PetPeeseResult:
    """PET (``y ~ se``) and PEESE (``y ~ v``) intercepts; ``estimate`` is the conditional one."""

    pet: float
    pet_se: float
    pet_pvalue: float
    peese: float
    peese_se: float
    peese_pvalue: float
    chosen: str
    estimate: float

    def __str__(self) -> str:
        from .report import format_pet_peese

        return format_pet_peese(self)


def pet_peese(yi, vi, *, alpha=0.10, labels=None):
    """PET-PEESE (Stanley & Doucouliagos 2014, Res Synth Methods 5:60).

    Both are weighted least squares with weights ``1/v`` and a free dispersion (t tests):
    PET regresses ``y`` on ``se``, PEESE on ``v``. The conditional estimate is PEESE's
    intercept when PET's intercept differs from 0 at two-sided ``alpha`` (0.10, i.e. the
    authors' one-sided 5 %), else PET's. Both are unreliable under high heterogeneity
    (Stanley 2017, Soc Psychol Personal Sci 8:581). When a line fits every effect exactly
    (e.g. all ``yi`` equal) the dispersion is 0 and the tests are undefined: ``ValueError``.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 3:
        raise ValueError("PET-PEESE needs at least 3 studies")
    pet = _wls_free(y, v, np.sqrt(v), "PET")
    peese = _wls_free(y, v, v, "PEESE")
    use_peese = pet.pvalues[0] < alpha
    return PetPeeseResult(
        pet=float(pet.params[0]), pet_se=float(pet.bse[0]), pet_pvalue=float(pet.pvalues[0]),
        peese=float(peese.params[0]), peese_se=float(peese.bse[0]),
        peese_pvalue=float(peese.pvalues[0]), chosen="PEESE" if use_peese else "PET",
        estimate=float(peese.params[0] if use_peese else pet.params[0]),
    )


def funnel_data(yi, vi, *, labels=None):
    """Effect, standard error and label per study, for a funnel plot."""
    y, v, labs = _checks.effects(yi, vi, labels)
    return pd.DataFrame({"study": labs, "yi": y, "sei": np.sqrt(v)})


def funnel_contours(center, se_max, *, levels=(0.90, 0.95, 0.99), n=50):
    """Contour lines ``center -/+ z_(1-a/2) se`` for a contour-enhanced funnel plot.

    Peters et al. (2008, J Clin Epidemiol 61:991) centre the contours at 0 (regions of
    statistical significance); pass ``center=0`` for that, or the pooled estimate for the
    classic pseudo-confidence funnel.
    """
    se = np.linspace(0, se_max, n)
    rows = []
    for lev in levels:
        z = stats.norm.ppf(1 - (1 - lev) / 2)
        rows.append(pd.DataFrame({"level": lev, "sei": se, "low": center - z * se, "high": center + z * se}))
    return pd.concat(rows, ignore_index=True)
