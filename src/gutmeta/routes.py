"""Routes from what a trial prints to an effect size ``(yi, vi)``, each a named, cited unit.

A *route* turns one kind of printed result into Hedges' g and its sampling variance, on the
book's scale (negative = the treatment group did better). A *step* supplies a missing input
of a route (a group size, an SD) under a stated assumption. Every route and step has a short
label, the formula, the assumption it makes and its source; :data:`ROUTES` and :data:`STEPS`
list them, so the data chapter can print them from the code. Each can be switched off by a
field of :class:`gutmeta.extract.Choices` (named in ``choice``), which makes it a dimension of
the multiverse.

The functions here are pure arithmetic on printed numbers. Which rows of ``data/`` feed them,
and in what order the routes are tried, is :mod:`gutmeta.extract`'s job.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import effects

SQRT3_PI = np.sqrt(3) / np.pi


# --------------------------------------------------------------------------- routes

def means_sd(m1, sd1, n1, m2, sd2, n2):
    """Hedges' g from arm means, SDs and sizes (:func:`gutmeta.effects.smd`)."""
    yi, vi = effects.smd([m1], [sd1], [n1], [m2], [sd2], [n2])
    return float(yi[0]), float(vi[0])


def from_t(t, n1, n2):
    """Hedges' g from a signed two-sample t (:func:`gutmeta.effects.smd_from_t`)."""
    yi, vi = effects.smd_from_t([t], [n1], [n2])
    return float(yi[0]), float(vi[0])


def from_exact_p(p, n1, n2, sign):
    """Hedges' g from an exact two-sided p: ``t = sign * qt(1 - p/2, n1 + n2 - 2)``."""
    t = effects.t_from_p([p], [n1], [n2], [sign])[0]
    return from_t(t, n1, n2)


def from_f(f, n1, n2, sign):
    """Hedges' g from F with one numerator df: ``t = sign * sqrt(F)``."""
    t = effects.t_from_f([f], [sign])[0]
    return from_t(t, n1, n2)


def from_d(d, n1, n2, sign, kind="d"):
    """Hedges' g from a printed standardised difference ``d`` (or ``g``, un-corrected first).

    ``t = d / sqrt(1/n1 + 1/n2)``, then :func:`from_t`, which applies the exact J and the
    large-sample variance (Borenstein et al. 2009, eqs. 4.18-4.20).
    """
    d = sign * abs(float(d))
    if kind == "g":
        d = d / float(effects.hedges_j(n1 + n2 - 2))
    return from_t(d / np.sqrt(1 / n1 + 1 / n2), n1, n2)


def from_md_ci(md, low, high, n1, n2, sign, level=0.95):
    """Hedges' g from a mean difference and its CI: ``SE = (high - low) / (2 z)``, ``t = MD / SE``.

    Cochrane Handbook 6.5.2.3 (large-sample z; for small trials the t quantile gives a larger SE,
    so z makes the effect slightly smaller, the conservative direction).
    """
    se = (float(high) - float(low)) / (2 * stats.norm.ppf(1 - (1 - level) / 2))
    return from_t(sign * abs(float(md)) / se, n1, n2)


def responders(e1, n1, e2, n2):
    """SMD from responder counts: log odds ratio times ``sqrt(3)/pi`` (Chinn 2000).

    ``log OR = log((e1 (n2 - e2)) / ((n1 - e1) e2))`` with ``var = 1/e1 + 1/(n1-e1) + 1/e2 +
    1/(n2-e2)``; 1/2 is added to every cell of a table that has a zero cell (metafor's default
    ``add = 1/2, to = "only0"``). ``SMD = log OR * sqrt(3)/pi`` and ``v = var * 3/pi^2``, the
    logistic-distribution conversion of Chinn (2000, Stat Med 19:3127; Cochrane Handbook
    10.6). A response is an improvement, so more responders on treatment is a benefit: the sign
    is flipped so that negative means benefit, as for every other route. Matches
    ``-metafor::escalc(measure="OR2DL", ai=e1, n1i=n1, ci=e2, n2i=n2)``.
    """
    a, c = float(e1), float(e2)
    b, d = float(n1) - a, float(n2) - c
    for val, name in ((a, "events_treatment"), (c, "events_control"), (b, "non-events_treatment"),
                      (d, "non-events_control")):
        if not np.isfinite(val) or val < 0:
            raise ValueError(f"responders: field '{name}' must be a count >= 0 (got {val!r})")
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    log_or = np.log(a * d / (b * c))
    var = 1 / a + 1 / b + 1 / c + 1 / d
    return float(-log_or * SQRT3_PI), float(var * SQRT3_PI**2)


def p_bound(bound, n1, n2, sign):
    """The smallest effect consistent with "p < bound": g from ``t = sign * qt(1 - bound/2, df)``.

    A printed bound says only that the true p is smaller; taking p = bound gives the smallest
    |t| the statement allows, so the effect is biased towards 0 (conservative), never away.
    """
    return from_exact_p(bound, n1, n2, sign)


def d_range(low, high, n1, n2, sign):
    """The end of a printed range of standardised effects nearest 0, as a d (conservative)."""
    d = min(abs(float(low)), abs(float(high))) if np.sign(low) == np.sign(high) else 0.0
    return from_d(d, n1, n2, sign)


def null_effect(n1, n2):
    """An effect of 0 with the variance that the group sizes imply: ``v = 1/n1 + 1/n2``.

    For a result printed without its direction (an exact p with no sign, or "not significant"):
    the trial keeps its weight while no direction is invented. With an exact p the true |g| is
    ``qt(1 - p/2, df) * sqrt(1/n1 + 1/n2)``, small when p is large, so the bias is towards 0.
    """
    return from_t(0.0, n1, n2)


# --------------------------------------------------------------------------- steps

def split_total(n_total):
    """Two group sizes from a total: ``ceil(N/2)`` to treatment, ``floor(N/2)`` to control."""
    n = int(n_total)
    if n < 4:
        raise ValueError(f"split_total: a total of {n} cannot give two groups of >= 2")
    return n - n // 2, n // 2


def pooled_sd(sds, ns):
    """Pooled SD of donor groups: ``sqrt(sum((n_j - 1) sd_j^2) / sum(n_j - 1))``.

    The imputation of a missing SD from other trials on the same instrument (Furukawa et al.
    2006, J Clin Epidemiol 59:7; Cochrane Handbook 6.5.2.7).
    """
    sds = np.asarray(sds, float)
    ns = np.asarray(ns, float)
    if sds.size == 0 or np.any(~np.isfinite(sds)) or np.any(sds <= 0) or np.any(ns < 2):
        raise ValueError("pooled_sd: donors need positive SDs and group sizes >= 2")
    return float(np.sqrt(np.sum((ns - 1) * sds**2) / np.sum(ns - 1)))


# --------------------------------------------------------------------------- catalogue

@dataclass(frozen=True)
class Route:
    """One accepted route (or step), with what a reader needs to judge it."""

    label: str
    kind: str          # "route" or "step"
    function: object
    formula: str
    assumption: str
    source: str        # bibliography keys, for {cite}
    choice: str        # the Choices field that switches it off


ROUTES = (
    Route("means+SD->g", "route", means_sd,
          "g = J(n1+n2-2) (m1 - m2) / s_pooled; v = 1/n1 + 1/n2 + g^2 / (2 (n1+n2))",
          "none beyond the normal model; SE, CI, median/IQR converted to SD first (listed per row)",
          "hedges1981,cochrane2024", "(always on)"),
    Route("t->g", "route", from_t, "d = t sqrt(1/n1 + 1/n2); g = J d",
          "the printed t is a two-sample t on the outcome", "borenstein2009", "include_derived"),
    Route("F->t->g", "route", from_f, "t = sign sqrt(F) (one numerator df)",
          "the F tests the two-group difference; sign from the printed means or words", "borenstein2009",
          "include_derived"),
    Route("exact p->t->g", "route", from_exact_p, "t = sign qt(1 - p/2, n1 + n2 - 2)",
          "the printed p is exact and two-sided; ANCOVA p treated as a t test",
          "borenstein2009,cochrane2024", "include_derived"),
    Route("d->g", "route", from_d, "t = d / sqrt(1/n1 + 1/n2); g = J d",
          "the printed d is a between-group standardised difference", "borenstein2009", "include_derived"),
    Route("MD+CI->t->g", "route", from_md_ci, "SE = (high - low) / 3.92; t = MD / SE",
          "symmetric 95% CI on the mean difference", "cochrane2024", "include_derived"),
    Route("responders->OR->SMD", "route", responders,
          "SMD = -ln(OR) sqrt(3)/pi; v = var(ln OR) 3/pi^2",
          "the continuous outcome follows a logistic distribution in each arm with a common spread",
          "chinn2000,cochrane2024", "use_responders"),
    Route("p bound->t->g", "route", p_bound, "t = sign qt(1 - bound/2, n1 + n2 - 2)",
          "p = bound: the smallest effect that 'p < bound' allows (biased towards 0)",
          "cochrane2024", "use_bounds"),
    Route("d range->g", "route", d_range, "g from the end of the printed range nearest 0",
          "the trial's depression effect lies in the printed range of its outcomes (biased towards 0)",
          "cochrane2024", "use_bounds"),
    Route("no direction->g=0", "route", null_effect, "g = 0; v = 1/n1 + 1/n2",
          "a result printed without its direction is taken as no difference (biased towards 0)",
          "cochrane2024", "undirected"),
)

STEPS = (
    Route("total split (stated)", "step", split_total, "n1 = ceil(N/2), n2 = floor(N/2)",
          "the source states equal (1:1) allocation", "cochrane2024", "total_split"),
    Route("total split (assumed)", "step", split_total, "n1 = ceil(N/2), n2 = floor(N/2)",
          "equal allocation is assumed where the source prints only the total", "cochrane2024",
          "total_split"),
    Route("n from trial", "step", None, "n of the arm = the trial's analysed (else randomised) arm size",
          "the value was computed on all analysed (else randomised) participants of the arm",
          "cochrane2024", "n_fallback"),
    Route("SD imputed", "step", pooled_sd, "SD = sqrt(sum (n_j - 1) sd_j^2 / sum (n_j - 1)) over donor arms",
          "the trial's SD equals the pooled SD of other trials on the same instrument",
          "furukawa2006,cochrane2024", "impute_sd"),
)

BY_LABEL = {r.label: r for r in ROUTES + STEPS}


def compute(label: str, **inputs):
    """Run the route called ``label`` on ``inputs`` (the numbers recorded in an effect row)."""
    if label not in BY_LABEL or BY_LABEL[label].kind != "route":
        raise ValueError(f"unknown route {label!r}; routes: {', '.join(r.label for r in ROUTES)}")
    return BY_LABEL[label].function(**inputs)


def catalogue():
    """The routes and steps as a table (label, kind, formula, assumption, source, choice)."""
    import pandas as pd

    return pd.DataFrame([{"label": r.label, "kind": r.kind, "formula": r.formula, "assumption": r.assumption,
                          "source": r.source, "choice": r.choice} for r in ROUTES + STEPS])
