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
#
# Every quadratic form is computed from weighted least-squares residuals, never as y'Py with
# an explicit P: y is first shifted by its median when X has a constant column (an exact
# change of the intercept only), beta comes from a QR decomposition of sqrt(W) X with one step
# of iterative refinement, and y'P y = sum(w r^2), y'PPy = sum(w^2 r^2),
# tr(P) = sum(w (1 - h)) with h the leverages (squared row norms of the QR factor Q). With
# effects near 10,000 and SEs of 0.05 this keeps Q exact to ~1e-12 relative, where y'Py loses
# six digits to cancellation.

def _constant_column(X: np.ndarray):
    """Index of a constant, non-zero column of ``X`` (the intercept), or None."""
    for j in range(X.shape[1]):
        col = X[:, j]
        if col[0] != 0 and np.all(col == col[0]):
            return j
    return None


def _centre(y: np.ndarray, X: np.ndarray):
    """``(y - c, j, c)``: y shifted by its median when column ``j`` of X is constant."""
    j = _constant_column(X)
    if j is None:
        return y, None, 0.0
    c = float(np.median(y))
    return y - c, j, c


def _uncentre(beta: np.ndarray, X: np.ndarray, j, c: float) -> np.ndarray:
    beta = np.array(beta, dtype=float)
    if j is not None:
        beta[..., j] += c / X[0, j]
    return beta


def _profile(yc, v, X, taus, method="REML"):
    """Profile quantities of the normal-normal model at each ``tau2`` in ``taus``.

    Returns a dict of arrays (one entry per tau2): ``ll`` the log-likelihood (ML) or restricted
    log-likelihood (REML) up to a constant, ``score`` its derivative in tau2 times 2,
    ``q = y'P y``, ``trp = tr(P)``, ``sumw = tr(W)``, and ``beta``, ``r`` (residuals), ``w``,
    ``R`` for the last tau2.

    ML: ``ll = -1/2 [sum log(v + tau2) + y'Py]``, score ``y'PPy - tr(W)``; REML adds
    ``-1/2 log|X'WX|`` and its score is ``y'PPy - tr(P)`` (Viechtbauer 2005, Stat Med
    24:3393, eqs. 9 and 12).
    """
    taus = np.atleast_1d(np.asarray(taus, dtype=float))
    W = 1.0 / (v[None, :] + taus[:, None])                      # (G, k)
    if X.shape[1] == 1:
        return _profile1(yc, v, X[:, 0], taus, W, method)
    SW = np.sqrt(W)
    A = X[None, :, :] * SW[:, :, None]                          # (G, k, p)
    Qf, R = np.linalg.qr(A)                                     # (G, k, p), (G, p, p)
    QT = np.swapaxes(Qf, 1, 2)
    beta = np.linalg.solve(R, QT @ (yc[None, :] * SW)[:, :, None])[..., 0]
    r = yc[None, :] - beta @ X.T
    # one step of iterative refinement of the least-squares solution
    beta = beta + np.linalg.solve(R, QT @ (r * SW)[:, :, None])[..., 0]
    r = yc[None, :] - beta @ X.T
    h = np.sum(Qf * Qf, axis=2)
    wr2 = W * r * r
    q = wr2.sum(1)
    sumw = W.sum(1)
    trp = np.sum(W * (1.0 - h), axis=1)
    ypppy = np.sum(W * wr2, axis=1)
    ll = -0.5 * (np.sum(np.log(v[None, :] + taus[:, None]), axis=1) + q)
    if method == "REML":
        ll = ll - np.sum(np.log(np.abs(np.diagonal(R, axis1=1, axis2=2))), axis=1)
        score = ypppy - trp
    else:
        score = ypppy - sumw
    return {"ll": ll, "score": score, "q": q, "trp": trp, "sumw": sumw, "beta": beta[-1],
            "r": r[-1], "w": W[-1], "R": R[-1]}


def _profile1(yc, v, x, taus, W, method):
    """:func:`_profile` for a single column ``x`` (the intercept-only model), in closed form."""
    Wx = W * x[None, :]
    sxx = np.sum(Wx * x[None, :], axis=1)                       # X'WX = R^2
    beta = np.sum(Wx * yc[None, :], axis=1) / sxx
    r = yc[None, :] - beta[:, None] * x[None, :]
    beta = beta + np.sum(Wx * r, axis=1) / sxx                   # one refinement step
    r = yc[None, :] - beta[:, None] * x[None, :]
    h = Wx * x[None, :] / sxx[:, None]
    wr2 = W * r * r
    q = wr2.sum(1)
    sumw = W.sum(1)
    trp = np.sum(W * (1.0 - h), axis=1)
    ypppy = np.sum(W * wr2, axis=1)
    ll = -0.5 * (np.sum(np.log(v[None, :] + taus[:, None]), axis=1) + q)
    if method == "REML":
        ll = ll - 0.5 * np.log(sxx)
        score = ypppy - trp
    else:
        score = ypppy - sumw
    return {"ll": ll, "score": score, "q": q, "trp": trp, "sumw": sumw, "beta": beta[-1:],
            "r": r[-1], "w": W[-1], "R": np.sqrt(sxx[-1:]).reshape(1, 1)}


def _wls2(yc, v, X, t):
    """Weights, residuals and leverages of the WLS fit at one tau2 (QR, one refinement step)."""
    w = 1.0 / (v + t)
    sw = np.sqrt(w)
    Qf, R = np.linalg.qr(X * sw[:, None])
    beta = np.linalg.solve(R, Qf.T @ (yc * sw))
    r = yc - X @ beta
    r = r - X @ np.linalg.solve(R, Qf.T @ (r * sw))
    return w, r, np.einsum("ij,ij->i", Qf, Qf)


def _resid1(yc, v, x, t):
    """Weights, ``w x``, ``x'Wx`` and residuals of the one-column WLS fit at ``tau2 = t``
    (closed form, one refinement step)."""
    w = 1.0 / (v + t)
    wx = w * x
    sxx = wx @ x
    r = yc - (wx @ yc / sxx) * x
    r = r - (wx @ r / sxx) * x
    return w, wx, sxx, r


def _q_fun(yc, v, X):
    """``t -> y'P(t)y`` as a fast scalar function (closed form for one column)."""
    if X.shape[1] != 1:
        def qm(t):
            w, r, _ = _wls2(yc, v, X, t)
            return float(w @ (r * r))
        return qm
    x = X[:, 0]

    def q(t):
        w, _, _, r = _resid1(yc, v, x, t)
        return float(w @ (r * r))
    return q


def _score_fun(yc, v, X, method):
    """``t -> score`` of the (restricted) log-likelihood as a fast scalar function."""
    if X.shape[1] != 1:
        def scm(t):
            w, r, h = _wls2(yc, v, X, t)
            wr = w * r
            return float(wr @ wr) - float(w @ (1.0 - h) if method == "REML" else np.sum(w))
        return scm
    x = X[:, 0]

    def score(t):
        w, wx, sxx, r = _resid1(yc, v, x, t)
        wr = w * r
        sw = float(np.sum(w))
        if method == "REML":
            return float(wr @ wr) - (sw - float(wx @ wx) / sxx)
        return float(wr @ wr) - sw
    return score


def _q_gen(y, v, X, tau2) -> float:
    """Generalised Q statistic ``y' P(tau2) y`` (decreasing in tau2), from centred residuals."""
    yc, _, _ = _centre(np.asarray(y, float), X)
    return float(_profile(yc, v, X, [tau2])["q"][0])


def _upper(yc, v, X) -> float:
    """A tau2 above which the (restricted) likelihood decreases and y'P y < k - p.

    For large tau2 the weighted residuals approach the OLS residuals ``e`` and the score
    behaves like ``e'e / tau2^2 - (k - p) / tau2``, negative beyond ``e'e / (k - p)``; the
    bound is ten times that plus the largest ``v_i`` (callers check it and extend it).
    """
    k, p = X.shape
    Qf, R = np.linalg.qr(X)
    e = yc - Qf @ (Qf.T @ yc)
    e = e - Qf @ (Qf.T @ e)
    return 10.0 * (float(e @ e) / max(k - p, 1) + float(np.max(v)))


# --------------------------------------------------------------------------- tau2

def _tau2_dl(y, v, X):
    """DerSimonian-Laird ``(Q - (k-p)) / tr(P_0)``, truncated at 0."""
    k, p = X.shape
    yc, _, _ = _centre(np.asarray(y, float), X)
    prof = _profile(yc, v, X, [0.0])
    return max(0.0, (float(prof["q"][0]) - (k - p)) / float(prof["trp"][0]))


def _tau2_he(y, v, X):
    k, p = X.shape
    yc, _, _ = _centre(np.asarray(y, float), X)
    Qf, _ = np.linalg.qr(X)
    e = yc - Qf @ (Qf.T @ yc)
    e = e - Qf @ (Qf.T @ e)
    h = np.sum(Qf * Qf, axis=1)
    return max(0.0, (float(e @ e) - float(np.sum((1.0 - h) * v))) / (k - p))


def _tau2_sj(y, v, X):
    k, p = X.shape
    tau0 = float(np.var(y))  # sum((y - mean)^2) / k, as metafor's default start
    if tau0 == 0.0:
        return 0.0
    return tau0 * _q_gen(y, v, X, tau0) / (k - p)


def _root_decreasing(fun, target, hi, *, maxiter):
    """Root of a decreasing ``fun(t) = target`` on ``[0, inf)``: (root, converged, evaluations).

    ``fun(0) > target`` is the caller's business. The upper end is extended tenfold until
    ``fun(hi) < target`` (at most 60 times); the root is then refined by Brent's method to
    ``|dt| <= 1e-15 + 1e-13 t``.
    """
    n = 0
    for _ in range(60):
        n += 1
        if fun(hi) < target:
            break
        hi *= 10.0
    else:
        return hi, False, n
    root, info = optimize.brentq(lambda t: fun(t) - target, 0.0, hi, xtol=1e-300, rtol=1e-13,
                                 maxiter=maxiter, full_output=True, disp=False)
    return float(root), bool(info.converged), n + info.function_calls


def _pm(y, v, X):
    """Paule-Mandel: the root of ``y'P(tau2)y = k - p`` (0 when ``Q <= k - p``)."""
    k, p = X.shape
    yc, _, _ = _centre(np.asarray(y, float), X)
    fun = _q_fun(yc, v, X)
    if fun(0.0) <= k - p:
        return 0.0, True, 1
    return _root_decreasing(fun, k - p, _upper(yc, v, X), maxiter=MAXITER)


def _tau2_pm(y, v, X):
    return _pm(y, v, X)[0]


GRID_PER_DECADE = 8
SCAN_EXTENSIONS = 20  # times the scan may be extended (x1000 each) while the top is the maximum


def _grid(v, hi):
    lo = 1e-4 * float(np.min(v))
    n = int(np.clip(np.ceil(GRID_PER_DECADE * np.log10(hi / lo)), 40, 400))
    return np.concatenate([[0.0], np.geomspace(lo, hi, n)])


def _refine_max(yc, v, X, method, a, b):
    """Refine a local maximum of the profile likelihood inside ``[a, b]``.

    The root of the score by Brent's method when the score changes sign on the bracket,
    otherwise a bounded Brent search of the likelihood. Returns (tau2, ll, converged, evals).
    """
    score = _score_fun(yc, v, X, method)
    sa, sb = score(a), score(b)
    if sa > 0 > sb:
        t, info = optimize.brentq(score, a, b, xtol=1e-300, rtol=1e-13, maxiter=MAXITER,
                                  full_output=True, disp=False)
        ok, n = bool(info.converged), info.function_calls + 2
    else:
        res = optimize.minimize_scalar(
            lambda t: -float(_profile(yc, v, X, [t], method)["ll"][0]), bounds=(a, b),
            method="bounded", options={"xatol": 1e-13 * max(b, 1e-300), "maxiter": MAXITER})
        t, ok, n = float(res.x), bool(res.success), int(res.nfev) + 2
    return float(t), float(_profile(yc, v, X, [t], method)["ll"][0]), ok, n


def _tau2_ml(y, v, X, method):
    """ML/REML estimate of tau2: the global maximum of the profile likelihood on [0, inf).

    1. Scan: the (restricted) log-likelihood on a grid of 0 and log-spaced values from
       ``1e-4 min(v_i)`` to an upper bound (:func:`_upper`, extended while the likelihood still
       rises at the top), eight points per decade.
    2. Refine every local maximum of the scan: 0 when it is at the boundary with a
       non-positive score; otherwise the root of the score in the bracket of its grid
       neighbours (Brent).
    3. Return the refined candidate with the largest likelihood.

    ``converged`` is True only when that refinement met its tolerance and the maximum is at 0
    or interior to the scan. (metafor instead runs Fisher scoring from one start, which can
    stop at a local maximum.)
    """
    yc, _, _ = _centre(np.asarray(y, float), X)
    hi = _upper(yc, v, X)
    grid = _grid(v, hi)
    prof = _profile(yc, v, X, grid, method)
    ll, sc = prof["ll"], prof["score"]
    evals = len(grid)
    for _ in range(SCAN_EXTENSIONS):  # extend while the maximum is at the top of the scan
        if np.argmax(ll) != len(grid) - 1:
            break
        more = np.geomspace(grid[-1], grid[-1] * 1e3, 3 * GRID_PER_DECADE + 1)[1:]
        p2 = _profile(yc, v, X, more, method)
        grid = np.concatenate([grid, more])
        ll, sc = np.concatenate([ll, p2["ll"]]), np.concatenate([sc, p2["score"]])
        evals += len(more)
    n = len(grid)
    cands = []
    for i in range(n):
        left = ll[i - 1] if i > 0 else -np.inf
        right = ll[i + 1] if i < n - 1 else -np.inf
        if not (ll[i] >= left and ll[i] >= right) or not np.isfinite(ll[i]):
            continue
        if i == n - 1:
            cands.append((grid[i], ll[i], False))
            continue
        if i == 0 and sc[0] <= 0:
            cands.append((0.0, ll[0], True))
            continue
        a = grid[i - 1] if i > 0 else 0.0
        t, lt, ok, m = _refine_max(yc, v, X, method, a, grid[i + 1])
        evals += m
        # the refined point must not be below its grid point (beyond rounding)
        good = lt >= ll[i] - 1e-12 * (1.0 + abs(ll[i]))
        cands.append((t, lt, ok) if good else (grid[i], ll[i], False))
    if not cands:
        return float(grid[np.argmax(ll)]), False, evals
    best = max(cands, key=lambda c: c[1])
    return float(best[0]), bool(best[2]), evals


def _tau2_statsmodels(y, v, method):
    """DL and PM from statsmodels' ``combine_effects`` (kept only to cross-check our own code).

    Not used for estimation: its PM iteration stops at a tolerance it cannot always meet and
    then returns 0 without saying so (e.g. the SMDs of metafor's ``dat.normand1999``).
    """
    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "DL":
            res = combine_effects(y, v, method_re="dl")
        else:
            res = combine_effects(y, v, method_re="iterated", atol=1e-14, maxiter=ROOT_MAXITER)
    return max(0.0, float(res.tau2))


def _design(X, k: int) -> np.ndarray:
    """Validate a design matrix: numeric, finite, k rows, full column rank."""
    if X is None:
        return np.ones((k, 1))
    X = np.asarray(X)
    if X.dtype.kind not in "iuf":
        raise ValueError(f"X must be a numeric matrix (got dtype {X.dtype})")
    X = X.astype(float)
    if X.ndim != 2 or X.shape[0] != k:
        raise ValueError(f"X must have {k} rows (one per study), got shape {X.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
    if bad.size:
        raise ValueError(f"study {bad[0] + 1}: a value of X is missing or not finite")
    if X.shape[1] > k:
        raise ValueError(f"{k} studies cannot estimate {X.shape[1]} coefficients")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("the moderators are collinear (X is not of full column rank)")
    return X


def _rescale(y, v, labs):
    """Power-of-two rescaling so that the largest ``v`` lies in [1/4, 1] when it is extreme.

    The model is equivariant: ``y/s, v/s^2`` give ``beta/s`` and ``tau2/s^2``; with ``s`` a
    power of two the rescaling is exact. Without it, variances near 1e-300 overflow the
    weights. Variances spanning more than 200 orders of magnitude are refused.
    """
    vmax, vmin = float(np.max(v)), float(np.min(v))
    if vmax / vmin > 1e200 or not np.isfinite(vmax / vmin):
        i, j = int(np.argmin(v)), int(np.argmax(v))
        raise ValueError(f"the sampling variances span more than 200 orders of magnitude "
                         f"({labs[i]}: vi={vmin!r}, {labs[j]}: vi={vmax!r}); check the data")
    if 1e-100 <= vmax <= 1e100:
        return y, v, 1.0
    m = int(np.ceil(np.log2(vmax) / 2))
    s = float(2.0 ** m)
    return y / s, v / (s * s), s


def estimate_tau2(yi, vi, X=None, *, method="REML"):
    """Between-study variance ``tau2`` and whether its estimator converged.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and their sampling variances.
    X : array-like, optional
        Design matrix (``k x p``, with an intercept column); intercept only when omitted.
        Must be numeric, finite and of full column rank.
    method : {"EE", "FE", "DL", "REML", "ML", "PM", "SJ", "HE"}

    Returns
    -------
    (tau2, converged, iterations)
        ``iterations`` counts likelihood/Q evaluations of the iterative estimators.

    Notes
    -----
    With ``P = W - W X (X'WX)^-1 X'W`` and ``W = diag(1/(v_i + tau2))``:

    * DL (DerSimonian & Laird 1986): ``(Q - (k-p)) / tr(P_0)``, ``P_0`` at ``tau2 = 0``.
    * HE (Hedges 1983): ``(y'(I-H)y - tr((I-H)V)) / (k-p)``, ``H`` the OLS hat matrix.
    * SJ (Sidik & Jonkman 2005): ``tau0 * y'P(tau0)y / (k-p)`` with ``tau0 = sum((y-ybar)^2)/k``.
    * PM (Paule & Mandel 1982): the root of the decreasing ``y'P(tau2)y = k - p``, by Brent's
      method (0 when ``Q <= k - p``).
    * ML, REML: the global maximum of the (restricted) likelihood on ``[0, inf)``, found by a
      scan and refined at every local maximum (see :func:`_tau2_ml`); ``converged`` is False
      when the maximum cannot be certified.

    Every estimate is truncated at 0. Quadratic forms come from centred weighted residuals
    (see the module's algebra section), and extreme variances are rescaled by a power of two.
    Matches ``metafor::rma(yi, vi, method=...)$tau2`` (where metafor finds the global maximum).
    """
    y, v, labs = _checks.effects(yi, vi)
    method = _checks.method_name(method)
    X = _design(X, len(y))
    k, p = X.shape
    if method == "EE" or k <= p:
        return 0.0, True, 0
    y, v, s = _rescale(y, v, labs)
    if method == "DL":
        out = _tau2_dl(y, v, X), True, 0
    elif method == "HE":
        out = _tau2_he(y, v, X), True, 0
    elif method == "SJ":
        out = _tau2_sj(y, v, X), True, 0
    elif method == "PM":
        out = _pm(y, v, X)
    else:
        out = _tau2_ml(y, v, X, method)
    return float(out[0]) * s * s, bool(out[1]), int(out[2])


def tau2_profile_ci(yi, vi, X=None, *, level=0.95):
    """Q-profile confidence interval for ``tau2`` (Viechtbauer 2007, Stat Med 26:37).

    The bounds solve ``y'P(tau2)y = chi2_{k-p}(1 - a/2)`` (lower) and ``= chi2_{k-p}(a/2)``
    (upper), ``a = 1 - level``; a bound is 0 when ``Q`` at ``tau2 = 0`` already lies below
    its quantile. Matches ``confint(rma(yi, vi))`` for tau^2.
    """
    y, v, labs = _checks.effects(yi, vi)
    X = _design(X, len(y))
    k, p = X.shape
    if k <= p:
        return (np.nan, np.nan)
    a = 1 - _checks.level_value(level)
    y, v, s = _rescale(y, v, labs)
    yc, _, _ = _centre(y, X)
    fun = _q_fun(yc, v, X)
    q0 = fun(0.0)

    def bound(quantile):
        crit = stats.chi2.ppf(quantile, k - p)
        if q0 <= crit:
            return 0.0
        root, ok, _ = _root_decreasing(fun, crit, _upper(yc, v, X), maxiter=ROOT_MAXITER)
        if not ok:
            warnings.warn("the Q-profile bound for tau2 did not converge; it is reported as NaN",
                          ConvergenceWarning, stacklevel=3)
            return np.nan
        return root * s * s

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

    Decided edge cases: a model with moderators and as many coefficients as studies is
    refused for every estimator but EE (metafor: "Number of parameters to be estimated is
    larger than the number of observations"); knha is refused when ``k <= p`` and when every
    residual is 0 (the model reproduces every effect, so ``s2w = 0`` and the standard errors
    would be 0).
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    method = _checks.method_name(method)
    test = _checks.test_name(test)
    level = _checks.level_value(level)
    k = len(y)
    X = _design(X, k)
    p = X.shape[1]
    if p > 1 and k <= p and method != "EE":
        raise ValueError(f"{k} studies cannot estimate {p} coefficients and tau2 (the number of "
                         "parameters must be smaller than the number of studies; metafor refuses too)")
    if test == "knha" and k <= p:
        raise ValueError(f"test='knha' needs more studies than coefficients (k={k}, p={p})")

    if tau2 is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tau2_hat, converged, iterations = estimate_tau2(y, v, X, method=method)
        if not converged:
            warnings.warn(f"{method} estimator of tau2 did not converge (its maximum or root could "
                          "not be certified); the result is reported with converged=False",
                          ConvergenceWarning, stacklevel=2)
    else:
        tau2_hat, converged, iterations = float(tau2), True, 0

    ys, vs, s = _rescale(y, v, labs)
    yc, j, c = _centre(ys, X)
    fit = _profile(yc, vs, X, [tau2_hat / (s * s)], method)
    w = fit["w"]
    beta = _uncentre(fit["beta"], X, j, c) * s
    resid = fit["r"]
    r_inv = np.linalg.inv(fit["R"])
    xtwx_inv = (r_inv @ r_inv.T) * (s * s)
    if test == "knha":
        scale = max(float(np.max(np.abs(ys))), float(np.sqrt(np.max(vs))))
        if np.all(np.abs(resid) <= 4096 * np.finfo(float).eps * scale):
            raise ValueError("test='knha' is undefined here: the model reproduces every effect "
                             "exactly (all residuals are 0), so the Knapp-Hartung variance is 0; "
                             "use test='z'")
        s2w = float(fit["q"][0]) / (k - p)
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
        p0 = _profile(yc, vs, X, [0.0], "ML")
        q = max(0.0, float(p0["q"][0]))
        q_pvalue = float(stats.chi2.sf(q, k - p))
        vt = (k - p) / float(p0["trp"][0]) * (s * s)
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
    ``k = 1`` returns the study itself (tau2 = 0, Q = 0, p = 1); ``k = 1`` with knha is an
    error here (metafor silently switches to z; :func:`gutmeta.subgroups` and
    :func:`gutmeta.leave_one_out` do the same for their one-study fits). knha with all effects
    equal is an error (the Knapp-Hartung variance is 0). Two pandas Series are paired by
    index.

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
