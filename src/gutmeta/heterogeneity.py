"""Which studies drive the heterogeneity: leave-one-out, influence, Baujat and GOSH."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import _checks
from .pooling import ConvergenceWarning, _rescale, fit_model, pool

GOSH_EXHAUSTIVE_MAX_K = 20


def leave_one_out(yi, vi, *, method="REML", test="z", level=0.95, labels=None):
    """Pool the studies ``k`` times, each time without one of them.

    Returns a DataFrame indexed by the omitted study's label with columns ``estimate, se,
    ci_low, ci_high, pvalue, tau2, i2, q``. Matches ``metafor::leave1out(rma(...))``,
    including ``k = 2`` with ``test="knha"``: each one-study fit then uses the z test.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    if len(y) < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    rows = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        # a one-study fit cannot use Knapp-Hartung; like metafor's leave1out (whose rma() call
        # sets test="z" when k = 1) that fit falls back to the z test
        r = pool(y[keep], v[keep], method=method, test="z" if keep.sum() == 1 else test, level=level)
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

GOSH_GRID_TOP = None  # the top of the ML/REML scan; None: 10 (sum of squared centred effects + max v)
GOSH_MAX_SUBSET_BITS = 62  # subset ids are int64 bit masks up to this k; beyond, rows are drawn


def _subset_masks(k, n_subsets=None, seed=None):
    """Inclusion matrix: all 2^k - 1 non-empty subsets, or a seeded random sample of them.

    Up to 62 studies a subset is identified by an int64 bit mask; with more studies the
    sample is drawn as rows of independent fair bits (uniform over the non-empty subsets,
    duplicates removed) and the ids are Python integers.
    """
    if k > GOSH_MAX_SUBSET_BITS:
        rng = np.random.default_rng(seed)
        rows = np.empty((0, k), dtype=np.uint8)
        while len(rows) < n_subsets:
            more = rng.integers(0, 2, size=(n_subsets, k), dtype=np.uint8)
            more = more[more.any(axis=1)]
            rows = np.unique(np.concatenate([rows, more]), axis=0)
        rows = rows[np.sort(rng.choice(len(rows), size=n_subsets, replace=False))]
        weights = [1 << i for i in range(k)]
        ids = np.array([sum(w for w, b in zip(weights, row) if b) for row in rows], dtype=object)
        return ids, rows.astype(np.float64)
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
    """Equal-effect fit of every subset; Q from centred residuals (two passes)."""
    w = 1.0 / v
    MW = M * w[None, :]
    sw = MW.sum(1)
    est = (MW @ y) / sw
    r = y[None, :] - est[:, None]
    q = np.maximum(np.sum(MW * r * r, axis=1), 0.0)
    sww = (MW * w[None, :]).sum(1)
    return est, q, sw, sww


def _gosh_score(M, y, v, t, method):
    """REML/ML score and minus its slope for each subset (rows of ``M``) at ``t``.

    With ``r = y - mu`` and ``w`` the subset's weights: ``y'PPy = sum(w^2 r^2)`` and
    ``y'PPPy = sum(w^3 r^2) - (sum(w^2 r))^2 / sum(w)``; see ``pooling._profile``.
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


def _gosh_scan(M, y, v, grid, method):
    """Profile (restricted) log-likelihood of every subset on the tau2 grid (rows x grid).

    The subset sums are matrix products: ``sum_i in S 1/(v_i + t)`` is ``M @ (1/(v + t))``.
    """
    Wg = 1.0 / (v[:, None] + grid[None, :])                     # (k, G)
    sw = M @ Wg
    swy = M @ (Wg * y[:, None])
    swyy = M @ (Wg * (y * y)[:, None])
    slog = M @ np.log(v[:, None] + grid[None, :])
    q = np.maximum(swyy - swy * swy / sw, 0.0)
    ll = -0.5 * (slog + q)
    if method == "REML":
        ll -= 0.5 * np.log(sw)
    return ll


def _gosh_ll(M, y, v, t, method):
    """Profile (restricted) log-likelihood of each subset (rows of ``M``) at its own ``t``."""
    W = M / (v[None, :] + t[:, None])
    sw = W.sum(1)
    mu = (W @ y) / sw
    r = y[None, :] - mu[:, None]
    ll = -0.5 * ((M * np.log(v[None, :] + t[:, None])).sum(1) + (W * r * r).sum(1))
    return ll - 0.5 * np.log(sw) if method == "REML" else ll


def _newton_in_bracket(M, y, v, method, lo, hi, maxiter, tol):
    """Safeguarded Newton steps on the score, each subset inside its bracket [lo, hi]."""
    t = np.sqrt(lo * hi)
    t = np.where(lo > 0, t, 0.5 * hi)
    active = np.ones(t.size, dtype=bool)
    for _ in range(maxiter):
        act = np.flatnonzero(active)
        if act.size == 0:
            break
        score, slope = _gosh_score(M[act], y, v, t[act], method)
        pos = score > 0
        lo[act[pos]] = t[act[pos]]
        hi[act[~pos]] = t[act[~pos]]
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.where(slope > 0, t[act] + score / slope, np.nan)
        out = ~((lo[act] < new) & (new < hi[act]))
        new[out] = (lo[act][out] + hi[act][out]) / 2
        done = np.abs(new - t[act]) <= tol * np.maximum(1.0, new)
        t[act] = new
        active[act[done]] = False
    return t, ~active


def _gosh_ml(M, y, v, kk, method, maxiter=200, tol=1e-10, chunk=32768):
    """ML/REML for every subset by the rule of :func:`gutmeta.pooling._tau2_ml`.

    A vectorised scan of the profile likelihood on the same kind of grid (0 and log-spaced
    values), whose rises and falls (steps below rounding noise ignored) locate the local
    maxima. A subset with at most one interior maximum is done here: the interior maximum is
    refined by safeguarded Newton steps on the score inside the bracket of the scan, the
    boundary candidate is 0 when the likelihood falls from 0 and the score at 0 is not
    positive, and the candidate with the larger likelihood wins. A subset with several
    interior maxima, or the maximum at the top of the scan, goes to the scalar estimator,
    which refines and compares all of them.
    """
    from .pooling import _tau2_ml

    n = len(kk)
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    idx_all = np.flatnonzero(kk > 1)
    hi = 10.0 * (float(np.sum(y * y)) + float(np.max(v))) if GOSH_GRID_TOP is None else GOSH_GRID_TOP
    lo = 1e-4 * float(np.min(v))
    grid = np.concatenate([[0.0], np.geomspace(lo, hi, int(np.clip(np.ceil(8 * np.log10(hi / lo)), 40, 400)))])
    G = len(grid)
    cols = np.arange(G - 1)[None, :]
    for start in range(0, idx_all.size, chunk):
        idx = idx_all[start:start + chunk]
        Ms = M[idx]
        ll = _gosh_scan(Ms, y, v, grid, method)
        step = np.diff(ll, axis=1)                      # step j: grid j -> j + 1
        noise = 1e-11 * (1.0 + np.abs(ll[:, 1:]))
        sgn = np.where(step > noise, 1, np.where(step < -noise, -1, 0)).astype(np.int8)
        last = np.maximum.accumulate(np.where(sgn != 0, cols, -1), axis=1)
        prev_pos = last[:, :-1]                         # last significant step before step j + 1
        prev = np.where(prev_pos >= 0, np.take_along_axis(sgn, np.maximum(prev_pos, 0), axis=1), 0)
        peak = (prev == 1) & (sgn[:, 1:] == -1)         # an interior maximum near grid j + 1
        n_int = peak.sum(1)
        any_sig = (sgn != 0).any(1)
        first = np.take_along_axis(sgn, np.argmax(sgn != 0, axis=1)[:, None], axis=1)[:, 0]
        boundary = any_sig & (first == -1)
        final = np.take_along_axis(sgn, np.maximum(last[:, -1:], 0), axis=1)[:, 0]
        hard = ~any_sig | (n_int > 1) | (final == 1) | ((n_int == 0) & ~boundary)
        s0 = np.full(idx.size, np.inf)
        b_rows = np.flatnonzero(~hard & boundary)
        if b_rows.size:
            s0[b_rows] = _gosh_score(Ms[b_rows], y, v, np.zeros(b_rows.size), method)[0]
        hard |= boundary & (n_int == 0) & (s0 > 0)
        # interior maxima: bracket from the start of the last rise to the end of the fall
        rows = np.flatnonzero(~hard & (n_int == 1))
        t_int = np.full(idx.size, np.nan)
        ok_int = np.ones(idx.size, dtype=bool)
        if rows.size:
            j = np.argmax(peak[rows], axis=1)           # fall is step j + 1
            lo_b = grid[prev_pos[rows, j]].copy()
            hi_b = grid[j + 2].copy()
            t_int[rows], ok_int[rows] = _newton_in_bracket(Ms[rows], y, v, method, lo_b, hi_b, maxiter, tol)
        res = np.zeros(idx.size)
        ok = ok_int.copy()
        # both a boundary maximum (certified by its score) and an interior one: compare
        both = np.flatnonzero(~hard & boundary & (n_int == 1) & (s0 <= 0))
        only_int = np.flatnonzero(~hard & (n_int == 1) & ~(boundary & (s0 <= 0)))
        res[only_int] = t_int[only_int]
        if both.size:
            l0 = _gosh_ll(Ms[both], y, v, np.zeros(both.size), method)
            li = _gosh_ll(Ms[both], y, v, t_int[both], method)
            use = li > l0
            res[both] = np.where(use, t_int[both], 0.0)
            ok[both] = np.where(use, ok_int[both], True)
        tau2[idx] = res
        converged[idx] = ok
        for i in idx[np.flatnonzero(hard)]:
            m = M[i].astype(bool)
            t_i, ok_i, _ = _tau2_ml(y[m], v[m], np.ones((int(m.sum()), 1)), method)
            tau2[i], converged[i] = t_i, ok_i
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

    ML/REML follow the rule of :func:`gutmeta.pooling.estimate_tau2` (the global maximum of
    the likelihood, ``converged=False`` with a ``ConvergenceWarning`` when it cannot be
    certified). Q comes from centred residuals. With more than 62 studies subsets are always
    sampled (rows of random inclusion bits; ``subset_id`` is then a Python integer).
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
    if n_subsets is None and k > 30:
        raise ValueError(f"all 2^{k} - 1 subsets of {k} studies are too many to fit; pass n_subsets "
                         "to sample them")
    ids, M = _subset_masks(k, n_subsets, seed)
    kk = M.sum(1)
    # centre at the median and rescale extreme variances (exactly, by a power of two), as in
    # gutmeta.pooling, so that Q and the likelihood do not lose digits to a large offset
    ys, vs, s = _rescale(y, v, labs)
    c = float(np.median(ys))
    yc = ys - c
    est, q, sw, sww = _gosh_ee(M, yc, vs)
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
            tau2, converged = _gosh_ml(M, yc, vs, kk, method)
        W = M / (vs[None, :] + tau2[:, None])
        est = (W @ yc) / W.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = np.where(df > 0, 100 * tau2 / (vt + tau2), 0.0)
    est = (est + c) * s
    tau2 = tau2 * (s * s)
    if not converged.all():
        warnings.warn(f"gosh: the {method} estimate of {int((~converged).sum())} subsets could not "
                      "be certified (converged=False in those rows)", ConvergenceWarning, stacklevel=2)
    columns = {"subset_id": ids, "k": kk.astype(int), "estimate": est, "i2": i2, "tau2": tau2, "q": q,
               "converged": converged}
    member = M.astype(bool)
    columns.update({lab: member[:, j] for j, lab in enumerate(labs)})
    return pd.DataFrame(columns, copy=False)
