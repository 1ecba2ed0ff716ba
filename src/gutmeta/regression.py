"""Mixed-effects meta-regression and its permutation test."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import _checks
from .pooling import fit_model


@dataclass(frozen=True)
class MetaRegressionResult:
    """Coefficients (intercept first) and the omnibus moderator test ``qm``.

    ``qm`` is a Wald chi-square with ``qm_df`` degrees of freedom for ``test="z"``, or an F
    statistic with ``(qm_df, k - p)`` degrees of freedom for ``test="knha"``. ``r2`` is the
    percentage of tau2 accounted for by the moderators.
    """

    names: tuple
    coef: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    tau2: float
    i2: float
    h2: float
    qe: float
    qe_df: int
    qe_pvalue: float
    qm: float
    qm_df: int
    qm_pvalue: float
    r2: float
    k: int
    method: str
    test: str
    level: float
    converged: bool
    X: np.ndarray = field(repr=False)

    def table(self) -> pd.DataFrame:
        """Coefficient table, one row per term."""
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.statistic,
                             "pvalue": self.pvalue, "ci_low": self.ci_low, "ci_high": self.ci_high},
                            index=pd.Index(self.names, name="term"))

    def __str__(self) -> str:
        from .report import format_regression

        return format_regression(self)


def design_matrix(moderators, k: int):
    """Intercept plus moderators; categorical columns become treatment-coded dummies."""
    if isinstance(moderators, pd.Series):
        moderators = moderators.to_frame()
    if isinstance(moderators, pd.DataFrame):
        frame = moderators.reset_index(drop=True)
        for col in frame.columns:
            if frame[col].isna().any():
                i = int(np.flatnonzero(frame[col].isna().to_numpy())[0])
                raise ValueError(f"study {i + 1}: moderator '{col}' is missing")
        frame = pd.get_dummies(frame, drop_first=True, dtype=float)
        names = ["intercept"] + [str(c) for c in frame.columns]
        mods = frame.to_numpy(dtype=float)
    else:
        mods = np.asarray(moderators, dtype=float)
        if mods.ndim == 1:
            mods = mods[:, None]
        names = ["intercept"] + [f"x{j + 1}" for j in range(mods.shape[1])]
        if not np.all(np.isfinite(mods)):
            i = int(np.flatnonzero(~np.all(np.isfinite(mods), axis=1))[0])
            raise ValueError(f"study {i + 1}: a moderator value is missing or not finite")
    if mods.shape[0] != k:
        raise ValueError(f"mismatched lengths: {k} studies but {mods.shape[0]} rows of moderators")
    return np.column_stack([np.ones(k), mods]), names


def _qm(fit):
    """Wald test of all coefficients but the intercept (metafor's QM)."""
    b = fit.beta[1:]
    vb = fit.vb[1:, 1:]
    m = len(b)
    qm = float(b @ np.linalg.solve(vb, b))
    if fit.test == "knha":
        qm /= m
        return qm, m, float(stats.f.sf(qm, m, fit.k - fit.p))
    return qm, m, float(stats.chi2.sf(qm, m))


def meta_regression(yi, vi, moderators, *, method="REML", test="z", level=0.95, labels=None):
    """Mixed-effects meta-regression ``y_i = b0 + x_i'b + u_i + e_i``.

    Parameters
    ----------
    yi, vi : array-like
    moderators : array-like (k x m) or DataFrame
        Moderators without an intercept column; a DataFrame's text columns are dummy-coded.
    method, test, level : as in :func:`gutmeta.pool`.

    Notes
    -----
    ``b = (X'WX)^-1 X'Wy`` with ``W = diag(1/(v_i + tau2))`` and tau2 from the residual
    heterogeneity (Raudenbush 2009, in Handbook of Research Synthesis, ch. 16). Knapp-Hartung
    scales ``(X'WX)^-1`` by the weighted residual mean square and uses t/F quantiles.
    ``R2 = max(0, (tau2_0 - tau2) / tau2_0)`` in percent, ``tau2_0`` from the intercept-only
    model with the same estimator (Raudenbush 2009). Matches
    ``metafor::rma(yi, vi, mods=~..., method=method, test=test)``.

    A moderator table given as a pandas object is paired with ``yi`` by index (reordered when
    it holds the same labels, refused otherwise). As many coefficients as studies is refused
    for every estimator but EE, as metafor does; with ``test="knha"`` an exact fit (all
    residuals 0) is refused, since its standard errors would be 0.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    moderators = _checks.align(moderators, _checks.index_of(yi), "moderators")
    X, names = design_matrix(moderators, len(y))
    if X.shape[1] < 2:
        raise ValueError("meta_regression needs at least one moderator")
    fit = fit_model(y, v, X, method=method, test=test, level=level, labels=labs)
    qm, qm_df, qm_p = _qm(fit)
    if fit.method == "EE":
        r2 = np.nan
    else:
        tau2_0 = fit_model(y, v, method=method, test=test).tau2
        r2 = 0.0 if tau2_0 == 0 else max(0.0, 100 * (tau2_0 - fit.tau2) / tau2_0)
    return MetaRegressionResult(
        names=tuple(names), coef=fit.beta, se=fit.se, statistic=fit.statistic, pvalue=fit.pvalue,
        ci_low=fit.ci_low, ci_high=fit.ci_high, tau2=fit.tau2, i2=fit.i2, h2=fit.h2, qe=fit.q,
        qe_df=fit.q_df, qe_pvalue=fit.q_pvalue, qm=qm, qm_df=qm_df, qm_pvalue=qm_p, r2=r2,
        k=fit.k, method=fit.method, test=fit.test, level=fit.level, converged=fit.converged, X=X,
    )


@dataclass(frozen=True)
class PermutationResult:
    qm: float
    pvalue: float
    n_perm: int
    seed: int
    qm_perm: np.ndarray = field(repr=False)


def permutation_test(yi, vi, moderators, *, method="REML", test="z", n_perm=1000, seed=20251127,
                     labels=None):
    """Permutation p-value for the moderator test (Higgins & Thompson 2004, Stat Med 23:1663).

    The rows of the moderators are shuffled ``n_perm`` times (seeded); the p-value is
    ``(1 + #{QM_perm >= QM_obs}) / (1 + n_perm)`` (Phipson & Smyth 2010), so it is never 0.
    The idea is metafor's ``permutest``; its random draws differ, so its p-values are not
    reproduced digit for digit.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    moderators = _checks.align(moderators, _checks.index_of(yi), "moderators")
    X, _ = design_matrix(moderators, len(y))
    obs = _qm(fit_model(y, v, X, method=method, test=test))[0]
    rng = np.random.default_rng(seed)
    perm = np.empty(n_perm)
    for b in range(n_perm):
        Xp = X.copy()
        Xp[:, 1:] = X[rng.permutation(len(y)), 1:]
        perm[b] = _qm(fit_model(y, v, Xp, method=method, test=test))[0]
    p = (1 + np.sum(perm >= obs - 1e-12)) / (1 + n_perm)
    return PermutationResult(qm=obs, pvalue=float(p), n_perm=n_perm, seed=seed, qm_perm=perm)
