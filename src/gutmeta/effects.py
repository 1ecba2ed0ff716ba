"""Effect sizes (Hedges' g) and the conversions that feed them.

Sign convention: ``g = (mean_treatment - mean_control) / sd_pooled``. On a scale where lower
is better (every depression and anxiety scale in this book) a negative g is an improvement.
:func:`orient` flips the sign for scales where higher is better, so that negative always
means benefit.

Every conversion takes the printed values and returns the derived ones; nothing is stored.
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from . import _checks


# --------------------------------------------------------------------------- Hedges' g

def hedges_j(df):
    """Exact small-sample correction ``J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``.

    Hedges (1981), J Educ Stat 6:107, eq. 6e; as ``metafor::escalc(measure="SMD")``.
    """
    m = np.asarray(df, dtype=float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def _g_and_var(d, n1, n2):
    g = hedges_j(n1 + n2 - 2) * d
    vi = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    return g, vi


def smd(m1, sd1, n1, m2, sd2, n2, *, labels=None):
    """Hedges' g and its sampling variance from arm means, SDs and sizes.

    Parameters
    ----------
    m1, sd1, n1 : array-like
        Treatment arm mean, standard deviation, size.
    m2, sd2, n2 : array-like
        Control arm mean, standard deviation, size.
    labels : sequence of str, optional
        Study labels for error messages.

    Returns
    -------
    (yi, vi) : tuple of numpy arrays

    Notes
    -----
    ``d = (m1 - m2) / s_p`` with ``s_p^2 = ((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2)``;
    ``g = J(n1 + n2 - 2) d`` with the exact ``J`` of :func:`hedges_j`;
    ``v = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2))``, the large-sample variance of Hedges & Olkin
    (1985, eq. 8.15 with g in place of delta). Matches ``metafor::escalc(measure="SMD")``
    with its default ``vtype="LS"``. Change-score means and SDs go in the same way
    (:func:`smd_change` says so by name).
    """
    fields = {"m1": m1, "sd1": sd1, "n1": n1, "m2": m2, "sd2": sd2, "n2": n2}
    arr = {name: _checks.as_vector(val, name, labels) for name, val in fields.items()}
    k = _checks.same_length(**arr)
    labs = _checks.labels_for(k, labels)
    for name in ("m1", "m2"):
        _checks.finite(arr[name], name, labs)
    for name in ("sd1", "sd2"):
        _checks.positive(arr[name], name, labs)
    for name in ("n1", "n2"):
        _checks.at_least(arr[name], 2, name, labs)
    n1a, n2a = arr["n1"], arr["n2"]
    sp = np.sqrt(((n1a - 1) * arr["sd1"] ** 2 + (n2a - 1) * arr["sd2"] ** 2) / (n1a + n2a - 2))
    return _g_and_var((arr["m1"] - arr["m2"]) / sp, n1a, n2a)


def smd_change(mc1, sdc1, n1, mc2, sdc2, n2, *, labels=None):
    """Hedges' g from change-from-baseline means and SDs (same formula as :func:`smd`).

    The standardiser is the SD of the change scores, so this g is not on the same scale as a
    post-score g when the pre-post correlation is high (Cochrane Handbook 10.5.2).
    """
    return smd(mc1, sdc1, n1, mc2, sdc2, n2, labels=labels)


def smd_from_t(t, n1, n2, *, labels=None):
    """Hedges' g from an independent-samples t statistic.

    ``d = t sqrt(1/n1 + 1/n2)`` (Borenstein et al. 2009, Introduction to Meta-Analysis,
    eq. 7.6 rearranged), then ``g`` and ``v`` as in :func:`smd`. The sign of t must already
    say the direction (negative: treatment mean lower). Matches
    ``metafor::escalc(measure="SMD", ti=t, n1i=n1, n2i=n2)``.
    """
    ta = _checks.as_vector(t, "t", labels)
    n1a = _checks.as_vector(n1, "n_treatment", labels)
    n2a = _checks.as_vector(n2, "n_control", labels)
    k = _checks.same_length(t=ta, n_treatment=n1a, n_control=n2a)
    labs = _checks.labels_for(k, labels)
    _checks.finite(ta, "t", labs)
    _checks.at_least(n1a, 2, "n_treatment", labs)
    _checks.at_least(n2a, 2, "n_control", labs)
    return _g_and_var(ta * np.sqrt(1 / n1a + 1 / n2a), n1a, n2a)


def t_from_f(f, sign, *, labels=None):
    """``t = sign * sqrt(F)`` for an F statistic with one numerator degree of freedom."""
    fa = _checks.as_vector(f, "F", labels)
    sa = _checks.as_vector(sign, "sign", labels)
    k = _checks.same_length(F=fa, sign=sa)
    labs = _checks.labels_for(k, labels)
    _checks.positive(fa, "F", labs, strict=False)
    _check_sign(sa, labs)
    return sa * np.sqrt(fa)


def t_from_p(p, n1, n2, sign, *, labels=None):
    """``t`` from an exact two-sided p-value: ``t = sign * qt(1 - p/2, n1 + n2 - 2)``.

    Borenstein et al. (2009) ch. 7. ``p`` must be an exact value in (0, 1]; a p printed only
    as a bound ("<0.05") cannot be converted and is rejected upstream.
    """
    pa = _checks.as_vector(p, "p", labels)
    n1a = _checks.as_vector(n1, "n_treatment", labels)
    n2a = _checks.as_vector(n2, "n_control", labels)
    sa = _checks.as_vector(sign, "sign", labels)
    k = _checks.same_length(p=pa, n_treatment=n1a, n_control=n2a, sign=sa)
    labs = _checks.labels_for(k, labels)
    _checks.finite(pa, "p", labs)
    bad = np.flatnonzero((pa <= 0) | (pa > 1))
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labs[i]}: field 'p' must be in (0, 1] (got {float(pa[i])!r})")
    _check_sign(sa, labs)
    return sa * stats.t.isf(pa / 2, n1a + n2a - 2)


def _check_sign(sign, labs):
    bad = np.flatnonzero(~np.isin(sign, (-1.0, 1.0)))
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labs[i]}: field 'sign' must be -1 or +1 (got {float(sign[i])!r})")


def orient(yi, direction, *, labels=None):
    """Flip the sign of effects on scales where higher is better.

    ``direction`` holds ``"lower_better"`` or ``"higher_better"`` per effect; afterwards a
    negative value means the treatment group did better.
    """
    y = _checks.as_vector(yi, "yi", labels)
    dirs = np.asarray(direction, dtype=object)
    if dirs.ndim == 0:
        dirs = np.repeat(dirs, len(y))
    _checks.same_length(yi=y, direction=dirs)
    labs = _checks.labels_for(len(y), labels)
    for i, dname in enumerate(dirs):
        if dname not in ("lower_better", "higher_better"):
            raise ValueError(f"{labs[i]}: field 'direction' must be lower_better or higher_better "
                             f"(got {dname!r})")
    return np.where(dirs == "higher_better", -y, y)


# --------------------------------------------------------------------------- dispersion

def sd_from_se(se, n, *, labels=None):
    """``SD = SE * sqrt(n)`` (Cochrane Handbook 6.5.2.2)."""
    sea = _checks.as_vector(se, "se", labels)
    na = _checks.as_vector(n, "n", labels)
    labs = _checks.labels_for(_checks.same_length(se=sea, n=na), labels)
    _checks.positive(sea, "se", labs)
    _checks.at_least(na, 2, "n", labs)
    return sea * np.sqrt(na)


def sd_from_ci(low, high, n, *, level=0.95, labels=None):
    """SD of a group from the confidence interval of its mean.

    ``SD = sqrt(n) (high - low) / (2 t_{n-1, 1-a/2})`` (Cochrane Handbook 6.5.2.2, which uses
    the t quantile for small groups; it tends to ``(high - low) sqrt(n) / 3.92``).
    """
    lo = _checks.as_vector(low, "ci_low", labels)
    hi = _checks.as_vector(high, "ci_high", labels)
    na = _checks.as_vector(n, "n", labels)
    labs = _checks.labels_for(_checks.same_length(ci_low=lo, ci_high=hi, n=na), labels)
    _checks.finite(lo, "ci_low", labs)
    _checks.finite(hi, "ci_high", labs)
    _checks.at_least(na, 2, "n", labs)
    bad = np.flatnonzero(lo >= hi)
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labs[i]}: field 'ci_low' ({float(lo[i])!r}) must be below 'ci_high' ({float(hi[i])!r})")
    a = 1 - _checks.level_value(level)
    return np.sqrt(na) * (hi - lo) / (2 * stats.t.isf(a / 2, na - 1))


def _wan_xi(n):
    return 2 * stats.norm.ppf((n - 0.375) / (n + 0.25))


def _wan_eta(n):
    return 2 * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))


def _ordered(lo, mid, hi, names, labs):
    for vals, name in ((lo, names[0]), (mid, names[1]), (hi, names[2])):
        _checks.finite(vals, name, labs)
    bad = np.flatnonzero((lo > mid) | (mid > hi) | (lo == hi))
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labs[i]}: fields '{names[0]}' <= '{names[1]}' <= '{names[2]}' are out of "
                         f"order or equal ({float(lo[i])!r}, {float(mid[i])!r}, {float(hi[i])!r})")


def mean_sd_from_median_iqr(median, q1, q3, n, *, labels=None):
    """Mean and SD from median and interquartile range (Wan et al. 2014, scenario C3).

    ``mean = (q1 + median + q3) / 3``; ``SD = (q3 - q1) / eta(n)`` with
    ``eta(n) = 2 Phi^-1((0.75 n - 0.125) / (n + 0.25))``.
    Wan X, Wang W, Liu J, Tong T. BMC Med Res Methodol 2014;14:135, eqs. 14 and 15.
    """
    me, a, b, na = (_checks.as_vector(x, f, labels) for x, f in
                    ((median, "median"), (q1, "q1"), (q3, "q3"), (n, "n")))
    labs = _checks.labels_for(_checks.same_length(median=me, q1=a, q3=b, n=na), labels)
    _ordered(a, me, b, ("q1", "median", "q3"), labs)
    _checks.at_least(na, 2, "n", labs)
    return (a + me + b) / 3, (b - a) / _wan_eta(na)


def mean_sd_from_median_range(median, minimum, maximum, n, *, labels=None):
    """Mean and SD from median and range (Wan et al. 2014, scenario C1).

    ``mean = (min + 2 median + max) / 4`` (Hozo et al. 2005); ``SD = (max - min) / xi(n)``
    with ``xi(n) = 2 Phi^-1((n - 0.375) / (n + 0.25))`` (Wan et al. 2014, eq. 7).
    """
    me, a, b, na = (_checks.as_vector(x, f, labels) for x, f in
                    ((median, "median"), (minimum, "min"), (maximum, "max"), (n, "n")))
    labs = _checks.labels_for(_checks.same_length(median=me, min=a, max=b, n=na), labels)
    _ordered(a, me, b, ("min", "median", "max"), labs)
    _checks.at_least(na, 2, "n", labs)
    return (a + 2 * me + b) / 4, (b - a) / _wan_xi(na)


# --------------------------------------------------------------------------- multi-arm trials

def combine_arms(n1, m1, sd1, n2, m2, sd2):
    """Merge two arms into one group (Cochrane Handbook 23.3.4, Table 6.5.a).

    ``N = n1 + n2``; ``M = (n1 m1 + n2 m2) / N``;
    ``SD = sqrt(((n1-1) sd1^2 + (n2-1) sd2^2 + n1 n2 / N (m1 - m2)^2) / (N - 1))``.
    Returns ``(N, M, SD)``.
    """
    for val, name in ((n1, "n1"), (n2, "n2")):
        if not np.isfinite(val) or val < 1:
            raise ValueError(f"combine_arms: field '{name}' must be >= 1 (got {val!r})")
    for val, name in ((sd1, "sd1"), (sd2, "sd2")):
        if not np.isfinite(val) or val <= 0:
            raise ValueError(f"combine_arms: field '{name}' must be > 0 (got {val!r})")
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    sd = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1))
    return n, mean, sd


def split_control(n, parts):
    """Split a shared control group of size ``n`` into ``parts`` near-equal integer groups.

    Mean and SD stay as they are; only the size is divided, so that no participant is counted
    twice (Cochrane Handbook 23.3.4, option 'split the shared group').
    """
    n = int(n)
    parts = int(parts)
    if parts < 1:
        raise ValueError(f"split_control: parts must be >= 1 (got {parts})")
    if n < 2 * parts:
        raise ValueError(f"split_control: a control group of {n} cannot be split into {parts} groups of >= 2")
    base, extra = divmod(n, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def check_shared_controls(trial_ids, control_arms, control_n, arm_n):
    """Raise if a control arm contributes more participants than it has.

    Parameters
    ----------
    trial_ids, control_arms : sequences
        For each comparison, its trial and the label of its control arm.
    control_n : sequence of int
        The control size used in each comparison.
    arm_n : mapping ``(trial_id, arm) -> n``
        The real size of each control arm.
    """
    used: dict = {}
    for trial, arm, n in zip(trial_ids, control_arms, control_n):
        used[(trial, arm)] = used.get((trial, arm), 0) + n
    for (trial, arm), total in used.items():
        real = arm_n[(trial, arm)]
        if total > real:
            raise ValueError(f"{trial}: control arm '{arm}' is counted {total} times across comparisons "
                             f"but has {real} participants (a shared control counted twice)")
