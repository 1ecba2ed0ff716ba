"""Equal-effect and random-effects pooling (the normal-normal model).

Model: ``y_i = x_i' beta + u_i + e_i``, ``u_i ~ N(0, tau2)``, ``e_i ~ N(0, v_i)``
with known sampling variances ``v_i`` (Viechtbauer 2010, J Stat Softw 36(3)).
``beta`` is estimated by weighted least squares with weights ``w_i = 1/(v_i + tau2)``;
the estimators of ``tau2`` are listed in :func:`estimate_tau2`.

The public front door is :func:`pool` (intercept only). Meta-regression
(:func:`gutmeta.regression.meta_regression`) uses the same fitting core, :func:`fit_model`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from . import _checks

# The estimators offered in menus (EE last: it is the contrast, not the main model).
METHODS_FOR_UI = ("REML", "DL", "PM", "ML", "SJ", "HE", "EE")

# Convergence settings for the iterative estimators (REML, ML, PM, Q-profile).
TOL = 1e-10
MAXITER = 200
ROOT_MAXITER = 500  # for scipy's brentq (PM, Q-profile)


class ConvergenceWarning(UserWarning):
    """An iterative tau2 estimator stopped before it converged."""


# --------------------------------------------------------------------------- algebra

def _proj(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``P = W - W X (X' W X)^-1 X' W`` for diagonal ``W = diag(w)``."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def _q_gen(y, v, X, tau2) -> float:
    """Generalised Q statistic ``y' P(tau2) y`` (decreasing in tau2)."""
    P = _proj(1.0 / (v + tau2), X)
    return float(y @ P @ y)


# --------------------------------------------------------------------------- tau2

def _tau2_dl(y, v, X):
    P = _proj(1.0 / v, X)
    k, p = X.shape
    return max(0.0, (float(y @ P @ y) - (k - p)) / np.trace(P))


def _tau2_he(y, v, X):
    k, p = X.shape
    P = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    rss = float(y @ P @ y)
    return max(0.0, (rss - float(np.trace(P * v))) / (k - p))


def _tau2_sj(y, v, X):
    k, p = X.shape
    tau0 = float(np.var(y))  # sum((y - mean)^2) / k, as metafor's default start
    if tau0 == 0.0:
        return 0.0
    return tau0 * _q_gen(y, v, X, tau0) / (k - p)


def _tau2_pm(y, v, X):
    k, p = X.shape
    target = k - p
    if _q_gen(y, v, X, 0.0) <= target:
        return 0.0
    hi = max(1.0, 10 * float(np.var(y)))
    while _q_gen(y, v, X, hi) > target:
        hi *= 10
    return optimize.brentq(lambda t: _q_gen(y, v, X, t) - target, 0.0, hi, xtol=1e-15, rtol=1e-14,
                           maxiter=ROOT_MAXITER)


def _score_slope(y, v, X, tau2, method):
    """Score of the (restricted) log-likelihood in tau2 (times 2) and minus its derivative.

    REML: ``S = y'PPy - tr(P)``, ``-dS/dtau2 = 2 y'PPPy - tr(PP)``;
    ML: ``S = y'PPy - tr(W)``, ``-dS/dtau2 = 2 y'PPPy - tr(W^2)`` (using ``dP/dtau2 = -PP``).
    """
    w = 1.0 / (v + tau2)
    P = _proj(w, X)
    Py = P @ y
    PPy = P @ Py
    ypppy = float(Py @ PPy)
    if method == "REML":
        return float(Py @ Py) - np.trace(P), 2 * ypppy - float(np.sum(P * P))
    return float(Py @ Py) - float(np.sum(w)), 2 * ypppy - float(np.sum(w * w))


def _tau2_ml(y, v, X, method):
    """ML/REML estimate of tau2: the root of the score, by safeguarded Newton steps.

    The estimate is 0 when the score is not positive at 0 (the likelihood then decreases
    from the boundary). Otherwise a bracket ``[lo, hi]`` with a positive score at ``lo`` and
    a negative one at ``hi`` is kept, and a Newton step that leaves it is replaced by
    bisection. (metafor uses Fisher scoring; both solve the same equation, and Newton does
    not crawl where the expected and observed information differ.)
    """
    if _score_slope(y, v, X, 0.0, method)[0] <= 0.0:
        return 0.0, True, 0
    lo, hi = 0.0, max(1.0, 10 * float(np.var(y)))
    while _score_slope(y, v, X, hi, method)[0] > 0:
        lo, hi = hi, hi * 10
    tau2 = min(max(_tau2_dl(y, v, X), lo), hi)
    for it in range(1, MAXITER + 1):
        score, slope = _score_slope(y, v, X, tau2, method)
        if score > 0:
            lo = tau2
        else:
            hi = tau2
        new = tau2 + score / slope if slope > 0 else np.nan
        if not (lo < new < hi):
            new = (lo + hi) / 2
        done = abs(new - tau2) <= TOL * max(1.0, new)
        tau2 = new
        if done:
            return tau2, True, it
    return tau2, False, MAXITER


def _tau2_statsmodels(y, v, method):
    """DL and PM for the intercept-only model come from statsmodels' ``combine_effects``."""
    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "DL":
            res = combine_effects(y, v, method_re="dl")
        else:
            res = combine_effects(y, v, method_re="iterated", atol=1e-14, maxiter=ROOT_MAXITER)
    return max(0.0, float(res.tau2))


def estimate_tau2(yi, vi, X=None, *, method="REML"):
    """Between-study variance ``tau2`` and whether its estimator converged.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and their sampling variances.
    X : array-like, optional
        Design matrix (``k x p``, with an intercept column); intercept only when omitted.
    method : {"EE", "FE", "DL", "REML", "ML", "PM", "SJ", "HE"}

    Returns
    -------
    (tau2, converged, iterations)

    Notes
    -----
    With ``P = W - W X (X'WX)^-1 X'W`` and ``W = diag(1/(v_i + tau2))``:

    * DL (DerSimonian & Laird 1986): ``(Q - (k-p)) / tr(P_0)``, ``P_0`` at ``tau2 = 0``.
    * HE (Hedges 1983): ``(y'(I-H)y - tr((I-H)V)) / (k-p)``, ``H`` the OLS hat matrix.
    * SJ (Sidik & Jonkman 2005): ``tau0 * y'P(tau0)y / (k-p)`` with ``tau0 = sum((y-ybar)^2)/k``.
    * PM (Paule & Mandel 1982): the root of ``y'P(tau2)y = k - p``.
    * ML, REML: the root of the score equations ``y'PPy = tr(W)`` and ``y'PPy = tr(P)``
      (Viechtbauer 2005, Stat Med 24:3393), by Newton steps kept inside a bracket
      (bisection when a step leaves it); 0 when the score is not positive at 0.

    Every estimate is truncated at 0. DL and PM for the intercept-only model are taken
    from ``statsmodels.stats.meta_analysis.combine_effects``.
    Matches ``metafor::rma(yi, vi, method=...)$tau2``.
    """
    y, v, _ = _checks.effects(yi, vi)
    method = _checks.method_name(method)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float)
    k, p = X.shape
    if method == "EE" or k <= p:
        return 0.0, True, 0
    if method in ("DL", "PM") and p == 1:
        return _tau2_statsmodels(y, v, method), True, 0
    if method == "DL":
        return _tau2_dl(y, v, X), True, 0
    if method == "HE":
        return _tau2_he(y, v, X), True, 0
    if method == "SJ":
        return _tau2_sj(y, v, X), True, 0
    if method == "PM":
        return _tau2_pm(y, v, X), True, 0
    return _tau2_ml(y, v, X, method)


def tau2_profile_ci(yi, vi, X=None, *, level=0.95):
    """Q-profile confidence interval for ``tau2`` (Viechtbauer 2007, Stat Med 26:37).

    The bounds solve ``y'P(tau2)y = chi2_{k-p}(1 - a/2)`` (lower) and ``= chi2_{k-p}(a/2)``
    (upper), ``a = 1 - level``; a bound is 0 when ``Q`` at ``tau2 = 0`` already lies below
    its quantile. Matches ``confint(rma(yi, vi))`` for tau^2.
    """
    y, v, _ = _checks.effects(yi, vi)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float)
    k, p = X.shape
    if k <= p:
        return (np.nan, np.nan)
    a = 1 - _checks.level_value(level)
    q0 = _q_gen(y, v, X, 0.0)

    def bound(quantile):
        crit = stats.chi2.ppf(quantile, k - p)
        if q0 <= crit:
            return 0.0
        hi = max(1.0, 10 * float(np.var(y)))
        while _q_gen(y, v, X, hi) > crit:
            hi *= 10
        return optimize.brentq(lambda t: _q_gen(y, v, X, t) - crit, 0.0, hi, xtol=1e-15,
                               rtol=1e-14, maxiter=ROOT_MAXITER)

    return (bound(1 - a / 2), bound(a / 2))


# --------------------------------------------------------------------------- core fit

@dataclass(frozen=True)
class ModelFit:
    """Everything :func:`fit_model` computes; the public result types are built from it."""

    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    crit: float
    df: float
    tau2: float
    converged: bool
    iterations: int
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    h2: float
    weights: np.ndarray
    s2w: float
    k: int
    p: int
    method: str
    test: str
    level: float


def fit_model(yi, vi, X=None, *, method="REML", test="z", level=0.95, tau2=None, labels=None):
    """Fit the (mixed-effects) model and return a :class:`ModelFit`.

    ``tau2`` may be given to fix it. Knapp-Hartung (``test="knha"``) multiplies the
    covariance of ``beta`` by ``s2w = y'P y / (k - p)`` (untruncated, as metafor) and uses
    t(k - p) quantiles (Knapp & Hartung 2003, Stat Med 22:2693). I2 and H2 follow metafor:
    for EE the Q-based ``(Q - (k-p))/Q``; otherwise ``tau2 / (tau2 + vt)`` with the typical
    within-study variance ``vt = (k-p) / tr(P_0)`` (Higgins & Thompson 2002).
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    method = _checks.method_name(method)
    test = _checks.test_name(test)
    level = _checks.level_value(level)
    k = len(y)
    X = np.ones((k, 1)) if X is None else np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != k:
        raise ValueError(f"X must have {k} rows (one per study), got shape {X.shape}")
    p = X.shape[1]
    if k < p:
        raise ValueError(f"{k} studies cannot estimate {p} coefficients")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the moderators are collinear (X is not of full column rank)")
    if test == "knha" and k <= p:
        raise ValueError(f"test='knha' needs more studies than coefficients (k={k}, p={p})")

    if tau2 is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tau2_hat, converged, iterations = estimate_tau2(y, v, X, method=method)
        if not converged:
            warnings.warn(f"{method} estimator of tau2 did not converge in {MAXITER} iterations; "
                          "the result is reported with converged=False", ConvergenceWarning,
                          stacklevel=2)
    else:
        tau2_hat, converged, iterations = float(tau2), True, 0

    w = 1.0 / (v + tau2_hat)
    # weighted least squares through a QR decomposition of sqrt(W) X (better conditioned
    # than inverting X'WX when a moderator such as a year is far from 0)
    sw = np.sqrt(w)
    Q, R = np.linalg.qr(X * sw[:, None])
    beta = np.linalg.solve(R, Q.T @ (y * sw))
    r_inv = np.linalg.inv(R)
    xtwx_inv = r_inv @ r_inv.T
    resid = y - X @ beta
    if test == "knha":
        s2w = float(np.sum(w * resid**2)) / (k - p)
        df = float(k - p)
        crit = float(stats.t.ppf(1 - (1 - level) / 2, df))
    else:
        s2w = 1.0
        df = np.inf
        crit = float(stats.norm.ppf(1 - (1 - level) / 2))
    vb = s2w * xtwx_inv
    se = np.sqrt(np.diag(vb))
    statistic = beta / se
    if test == "knha":
        pvalue = 2 * stats.t.sf(np.abs(statistic), df)
    else:
        pvalue = 2 * stats.norm.sf(np.abs(statistic))

    # heterogeneity, always from the equal-effect weights
    if k > p:
        P0 = _proj(1.0 / v, X)
        q = max(0.0, float(y @ P0 @ y))
        q_pvalue = float(stats.chi2.sf(q, k - p))
        vt = (k - p) / np.trace(P0)
        if method == "EE":
            i2 = max(0.0, 100 * (q - (k - p)) / q) if q > 0 else 0.0
            h2 = q / (k - p)
        else:
            i2 = 100 * tau2_hat / (vt + tau2_hat)
            h2 = tau2_hat / vt + 1
    else:
        q, q_pvalue, i2, h2 = 0.0, 1.0, 0.0, 1.0

    return ModelFit(
        beta=beta, vb=vb, se=se, statistic=statistic, pvalue=pvalue,
        ci_low=beta - crit * se, ci_high=beta + crit * se, crit=crit, df=df,
        tau2=float(tau2_hat), converged=bool(converged), iterations=int(iterations),
        q=q, q_df=k - p, q_pvalue=q_pvalue, i2=float(i2), h2=float(h2),
        weights=100 * w / w.sum(), s2w=s2w, k=k, p=p, method=method, test=test, level=level,
    )


# --------------------------------------------------------------------------- public pool

@dataclass(frozen=True)
class PoolResult:
    """A pooled estimate; fields are named as in metafor's ``rma`` objects.

    ``i2`` is in percent. ``weights`` are percent weights of the studies (in input order).
    ``pi_low``/``pi_high`` bound the prediction interval for the true effect in a new study.
    """

    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    tau2_ci: tuple
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    k: int
    df: float
    method: str
    test: str
    level: float
    converged: bool
    iterations: int
    weights: np.ndarray = field(repr=False)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: tuple = field(repr=False)

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    def __str__(self) -> str:
        from .report import format_pool

        return format_pool(self)

    def to_frame(self):
        """One-row table of the main numbers."""
        import pandas as pd

        return pd.DataFrame([{
            "method": self.method, "test": self.test, "k": self.k, "estimate": self.estimate,
            "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "pvalue": self.pvalue,
            "pi_low": self.pi_low, "pi_high": self.pi_high, "tau2": self.tau2,
            "tau2_ci_low": self.tau2_ci[0], "tau2_ci_high": self.tau2_ci[1], "i2": self.i2,
            "h2": self.h2, "q": self.q, "q_df": self.q_df, "q_pvalue": self.q_pvalue,
        }])


def pool(yi, vi, *, method="REML", test="z", level=0.95, labels=None):
    """Pool effect sizes with an equal-effect or random-effects model.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances (``vi > 0``).
    method : {"EE", "FE", "DL", "REML", "ML", "PM", "SJ", "HE"}
        ``EE``/``FE`` is the equal-effect model; the others estimate ``tau2``
        (see :func:`estimate_tau2`).
    test : {"z", "knha"}
        Wald z test, or Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman) with t(k-1).
    level : float
        Confidence level of the CI, the prediction interval and the tau2 CI.
    labels : sequence of str, optional
        Study labels, used in error messages and plots.

    Returns
    -------
    PoolResult

    Notes
    -----
    ``estimate = sum(w y) / sum(w)``, ``se = sqrt(1/sum(w))`` (times ``sqrt(s2w)`` for knha),
    ``w = 1/(v + tau2)``. Prediction interval ``estimate -/+ crit * sqrt(tau2 + se^2)``
    with the same z or t(k-1) critical value as the CI (Riley et al. 2011, BMJ 342:d549;
    metafor 3.8 ``predict``). The tau2 CI is the Q-profile interval (:func:`tau2_profile_ci`).
    ``k = 1`` returns the study itself (tau2 = 0, Q = 0, p = 1).

    Matches ``metafor::rma(yi, vi, method=method, test=test)`` and ``predict()``, ``confint()``.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    fit = fit_model(y, v, method=method, test=test, level=level, labels=labs)
    est, se = float(fit.beta[0]), float(fit.se[0])
    half = fit.crit * np.sqrt(fit.tau2 + se**2)
    tau2_ci = tau2_profile_ci(y, v, level=level) if fit.k > 1 else (np.nan, np.nan)
    return PoolResult(
        estimate=est, se=se, statistic=float(fit.statistic[0]), pvalue=float(fit.pvalue[0]),
        ci_low=float(fit.ci_low[0]), ci_high=float(fit.ci_high[0]),
        pi_low=est - half, pi_high=est + half, tau2=fit.tau2, tau2_ci=tuple(tau2_ci),
        i2=fit.i2, h2=fit.h2, q=fit.q, q_df=fit.q_df, q_pvalue=fit.q_pvalue, k=fit.k, df=fit.df,
        method=fit.method, test=fit.test, level=fit.level, converged=fit.converged,
        iterations=fit.iterations, weights=fit.weights, yi=y, vi=v, labels=tuple(labs),
    )
