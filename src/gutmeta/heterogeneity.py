"""Which studies drive the heterogeneity: leave-one-out, influence, Baujat and GOSH."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _checks
from .pooling import fit_model, pool

GOSH_EXHAUSTIVE_MAX_K = 20


def leave_one_out(yi, vi, *, method="REML", test="z", level=0.95, labels=None):
    """Pool the studies ``k`` times, each time without one of them.

    Returns a DataFrame indexed by the omitted study's label with columns ``estimate, se,
    ci_low, ci_high, pvalue, tau2, i2, q``. Matches ``metafor::leave1out(rma(...))``.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    rows = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        r = pool(y[keep], v[keep], method=method, test=test, level=level)
        rows.append({"omitted": labs[i], "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "pvalue": r.pvalue, "tau2": r.tau2, "i2": r.i2, "q": r.q})
    return pd.DataFrame(rows).set_index("omitted")


def influence(yi, vi, *, method="REML", test="z", labels=None):
    """Case-deletion diagnostics of Viechtbauer & Cheung (2010, Res Synth Methods 1:112).

    For study ``i``, with ``b``/``var(b)`` from all studies and ``b_(-i)``, ``tau2_(-i)``,
    ``var(b_(-i))``, ``s2w_(-i)`` (1 for the z test) from the others:

    * ``rstudent = (y_i - b_(-i)) / sqrt(s2w_(-i) (v_i + tau2_(-i)) + var(b_(-i)))``
    * ``dffits = (b - b_(-i)) / sqrt(s2w_(-i) h_i (tau2_(-i) + v_i))``
    * ``cook_d = (b - b_(-i))^2 / var(b)``; ``cov_r = var(b_(-i)) / var(b)``
    * ``hat = h_i = w_i / sum(w)`` and ``weight = 100 h_i`` with ``w = 1/(v + tau2)``.

    Matches ``metafor::influence(rma(...))$inf`` for intercept-only models.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    k = len(y)
    if k < 3:
        raise ValueError("influence diagnostics need at least 3 studies")
    full = fit_model(y, v, method=method, test=test)
    b, vb = full.beta[0], full.vb[0, 0]
    w = 1.0 / (v + full.tau2)
    hat = w / w.sum()
    rows = []
    for i in range(k):
        keep = np.arange(k) != i
        d = fit_model(y[keep], v[keep], method=method, test=test)
        bi, vbi = d.beta[0], d.vb[0, 0]
        rows.append({
            "study": labs[i],
            "rstudent": (y[i] - bi) / np.sqrt(d.s2w * (v[i] + d.tau2) + vbi),
            "dffits": (b - bi) / np.sqrt(d.s2w * hat[i] * (d.tau2 + v[i])),
            "cook_d": (b - bi) ** 2 / vb,
            "cov_r": vbi / vb,
            "tau2_del": d.tau2,
            "q_del": d.q,
            "hat": hat[i],
            "weight": 100 * hat[i],
        })
    return pd.DataFrame(rows).set_index("study")


def baujat(yi, vi, *, method="REML", labels=None):
    """Baujat et al. (2002, Stat Med 21:2641) coordinates, as ``metafor::baujat``.

    ``x_i = (y_i - b)^2 / (v_i + tau2)``: the study's contribution to the heterogeneity;
    ``y_i = (b_(-i) - b)^2 / var(b_(-i))``: its influence on the pooled estimate.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 2:
        raise ValueError("Baujat coordinates need at least 2 studies")
    full = fit_model(y, v, method=method)
    b = full.beta[0]
    xs, ys = [], []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        d = fit_model(y[keep], v[keep], method=method)
        xs.append((y[i] - b) ** 2 / (v[i] + full.tau2))
        ys.append((d.beta[0] - b) ** 2 / d.vb[0, 0])
    return pd.DataFrame({"study": labs, "x": xs, "y": ys}).set_index("study")


# --------------------------------------------------------------------------- GOSH

def _subset_masks(k, n_subsets=None, seed=None):
    """Inclusion matrix: all 2^k - 1 non-empty subsets, or a seeded random sample of them."""
    if n_subsets is None:
        ids = np.arange(1, 2**k, dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        total = 2**k - 1
        if n_subsets >= total:
            ids = np.arange(1, 2**k, dtype=np.int64)
        else:
            ids = np.unique(rng.integers(1, 2**k, size=int(n_subsets * 1.1) + 16, dtype=np.int64))
            while len(ids) < n_subsets:
                more = rng.integers(1, 2**k, size=n_subsets, dtype=np.int64)
                ids = np.unique(np.concatenate([ids, more]))
            ids = rng.choice(ids, size=n_subsets, replace=False)
            ids.sort()
    # bit i of a subset id says whether study i is in; unpack the ids' bytes (little-endian)
    raw = np.ascontiguousarray(ids.astype("<u8")).view(np.uint8).reshape(len(ids), 8)
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :k]
    return ids, bits.astype(np.float64)


def _gosh_ee(M, y, v):
    w = 1.0 / v
    sw, swy, swyy, sww = (M @ np.column_stack([w, w * y, w * y * y, w * w])).T
    est = swy / sw
    q = np.maximum(swyy - swy**2 / sw, 0.0)
    return est, q, sw, sww


def _gosh_score(M, y, v, t, method):
    """REML/ML score and minus its slope for each subset (rows of ``M``) at ``t``.

    With ``r = y - mu`` and ``w`` the subset's weights: ``y'PPy = sum(w^2 r^2)`` and
    ``y'PPPy = sum(w^3 r^2) - (sum(w^2 r))^2 / sum(w)``; see ``pooling._score_slope``.
    """
    W = M / (v[None, :] + t[:, None])  # zero where a study is left out
    sw = W.sum(1)
    mu = (W @ y) / sw
    r = y[None, :] - mu[:, None]
    W2 = W * W
    sw2 = W2.sum(1)
    W2r = W2 * r
    ypp = (W2r * r).sum(1)
    ypppy = (W2r * W * r).sum(1) - W2r.sum(1) ** 2 / sw
    if method == "REML":
        sw3 = (W2 * W).sum(1)
        trpp = sw2 - 2 * sw3 / sw + sw2**2 / sw**2
        return ypp - (sw - sw2 / sw), 2 * ypppy - trpp
    return ypp - sw, 2 * ypppy - sw2


def _gosh_ml(M, y, v, start, kk, method, maxiter=200, tol=1e-10):
    """The safeguarded Newton iteration of :func:`gutmeta.pooling.estimate_tau2`, for all subsets."""
    n = len(kk)
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    idx = np.flatnonzero(kk > 1)
    score0, _ = _gosh_score(M[idx], y, v, np.zeros(idx.size), method)
    idx = idx[score0 > 0]  # the others have their maximum at tau2 = 0
    Ms = M[idx]
    lo = np.zeros(idx.size)
    hi = np.full(idx.size, max(1.0, 10 * float(np.var(y))))
    while True:
        up = _gosh_score(Ms, y, v, hi, method)[0] > 0
        if not up.any():
            break
        lo[up], hi[up] = hi[up], hi[up] * 10
    t = np.clip(start[idx], lo, hi)
    active = np.ones(idx.size, dtype=bool)
    for _ in range(maxiter):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        score, slope = _gosh_score(Ms[a], y, v, t[a], method)
        pos = score > 0
        lo[a[pos]] = t[a[pos]]
        hi[a[~pos]] = t[a[~pos]]
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.where(slope > 0, t[a] + score / slope, np.nan)
        out = ~((lo[a] < new) & (new < hi[a]))
        new[out] = (lo[a][out] + hi[a][out]) / 2
        done = np.abs(new - t[a]) <= tol * np.maximum(1.0, new)
        t[a] = new
        active[a[done]] = False
    tau2[idx] = t
    converged[idx] = ~active
    return tau2, converged


def gosh(yi, vi, *, method="EE", n_subsets=None, seed=20251127, max_k=GOSH_EXHAUSTIVE_MAX_K,
         labels=None):
    """Graphical display of study heterogeneity (Olkin, Dahabreh & Trikalinos 2012).

    Fits the model to every non-empty subset of the studies (all ``2^k - 1`` when
    ``k <= max_k`` and ``n_subsets`` is None; otherwise ``n_subsets`` subsets drawn with the
    given seed). Subsets are evaluated together, as matrix products over an inclusion matrix.

    Returns a DataFrame with one row per subset: ``subset_id`` (bit ``i`` set when study
    ``i`` is in), ``k``, ``estimate``, ``i2`` (percent), ``tau2``, ``q``, ``converged``, and
    one boolean column per study. I2 of a one-study subset is 0. Matches
    ``metafor::gosh(rma(yi, vi, method=...))`` for EE, DL, REML and ML.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    method = _checks.method_name(method)
    if method not in ("EE", "DL", "REML", "ML"):
        raise ValueError(f"gosh supports methods EE, DL, REML, ML (got {method!r})")
    k = len(y)
    if k < 2:
        raise ValueError("GOSH needs at least 2 studies")
    if n_subsets is None and k > max_k:
        n_subsets = 100_000
    ids, M = _subset_masks(k, n_subsets, seed)
    kk = M.sum(1)
    est, q, sw, sww = _gosh_ee(M, y, v)
    df = kk - 1
    trace_p0 = sw - sww / sw
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = np.where(df > 0, df / trace_p0, 0.0)
    converged = np.ones(len(ids), dtype=bool)
    if method == "EE":
        tau2 = np.zeros(len(ids))
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = np.where((df > 0) & (q > 0), np.maximum(0.0, 100 * (q - df) / q), 0.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            dl = np.where(df > 0, np.maximum(0.0, (q - df) / trace_p0), 0.0)
        if method == "DL":
            tau2 = dl
        else:
            tau2, converged = _gosh_ml(M, y, v, dl, kk, method)
        W = M / (v[None, :] + tau2[:, None])
        est = (W @ y) / W.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = np.where(df > 0, 100 * tau2 / (vt + tau2), 0.0)
    columns = {"subset_id": ids, "k": kk.astype(int), "estimate": est, "i2": i2, "tau2": tau2, "q": q,
               "converged": converged}
    member = M.astype(bool)
    columns.update({lab: member[:, j] for j, lab in enumerate(labs)})
    return pd.DataFrame(columns, copy=False)
