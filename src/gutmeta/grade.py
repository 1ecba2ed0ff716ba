"""GRADE certainty of evidence, one explicit rule per domain.

GRADE rates a body of randomised evidence "high" and rates it down one level for each serious
(two for each very serious) problem in five domains: risk of bias, inconsistency,
indirectness, imprecision and publication bias (Guyatt et al. 2011, J Clin Epidemiol 64:383;
Cochrane Handbook ch. 14; Schünemann et al., GRADE Handbook 2013). GRADE asks for judgement;
this module replaces the judgement by stated rules computed from the data, so that a rating
changes when ``data/`` changes and a reader can see which number moved it. Each domain
function takes plain inputs and returns a :class:`Judgement` whose ``reason`` states the
numbers that decided it. The thresholds are keyword options with the defaults named below;
a chapter that changes one should say so.

Sign convention of the book: a negative SMD means the treatment group did better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .report import fmt_est

LABELS = {0: "not serious", 1: "serious", 2: "very serious"}
NOT_ASSESSABLE = "not assessable"
DOMAINS = ("risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias")
LEVELS = ("high", "moderate", "low", "very low")
ROB_LABELS = ("low", "some_concerns", "high", "not_assessable")


@dataclass(frozen=True)
class Judgement:
    """The rating of one GRADE domain.

    domain : one of ``DOMAINS``.
    downgrade : levels rated down, 0, 1 or 2.
    label : "not serious", "serious", "very serious" or "not assessable" (no downgrade).
    reason : a sentence with the numbers that drove the rating.
    """

    domain: str
    downgrade: int
    label: str
    reason: str

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"Judgement.domain must be one of {DOMAINS} (got {self.domain!r})")
        if self.downgrade not in (0, 1, 2):
            raise ValueError(f"Judgement.downgrade must be 0, 1 or 2 (got {self.downgrade!r}) "
                             f"for domain {self.domain!r}")
        allowed = (NOT_ASSESSABLE,) if self.label == NOT_ASSESSABLE else (LABELS[self.downgrade],)
        if self.label not in allowed or (self.label == NOT_ASSESSABLE and self.downgrade != 0):
            raise ValueError(f"Judgement for {self.domain!r}: label {self.label!r} does not match "
                             f"downgrade {self.downgrade} (expected {LABELS[self.downgrade]!r})")

    def __str__(self) -> str:
        return f"{self.domain}: {self.label} ({self.reason})"


def _judge(domain: str, downgrade: int, reason: str) -> Judgement:
    return Judgement(domain, downgrade, LABELS[downgrade], reason)


def _not_assessable(domain: str, reason: str) -> Judgement:
    return Judgement(domain, 0, NOT_ASSESSABLE, reason)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _finite(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"field {name!r} must be a number (got {x!r})") from None
    return v


# --------------------------------------------------------------------------- risk of bias

def risk_of_bias(weights, judgements, *, labels=None, serious=0.5, very_serious=0.5) -> Judgement:
    """Risk of bias: the share of the analysis weight that comes from trials at risk.

    Parameters
    ----------
    weights : array-like
        Weight of each trial in the pooled analysis (percent or any positive scale, e.g.
        ``PoolResult.weights``); only shares are used.
    judgements : sequence of str
        The overall RoB 2 judgement of each trial, as in ``data/risk_of_bias.csv``
        (``low``, ``some_concerns``, ``high``, ``not_assessable``).
    labels : sequence of str, optional
        Trial labels for error messages.
    serious, very_serious : float
        The share thresholds (defaults 0.5 and 0.5).

    Returns
    -------
    Judgement
        Rated down two levels ("very serious") when more than ``very_serious`` of the weight
        comes from trials at high risk; else one level ("serious") when more than ``serious``
        of the weight comes from trials at high risk or with some concerns; else not serious.
        No trials: "not assessable".

    Notes
    -----
    GRADE rates risk of bias across the body of evidence, not by counting trials: the
    judgement follows the trials that contribute most of the weight (Guyatt et al. 2011, J Clin
    Epidemiol 64:407, "GRADE guidelines 4", sections on summarising across studies; Cochrane
    Handbook ch. 14, section 14.2, and ch. 7, where "most information from studies at low
    risk" is the criterion; GRADE Handbook section 5.2). The threshold "more than half of the
    weight" operationalises "most information". ``not_assessable`` (the trial could not be
    judged from the reachable sources) is counted as ``some_concerns``: missing information
    about a trial's conduct is not evidence that it was well conducted (RoB 2 guidance,
    Sterne et al. 2019, BMJ 366:l4898: in its algorithms "no information" answers mostly lead
    to some concerns). The reason says how many trials were so counted.
    """
    w = np.asarray(weights, dtype=float).ravel()
    j = [str(x) for x in (judgements if not isinstance(judgements, str) else [judgements])]
    labs = list(labels) if labels is not None else [f"trial {i + 1}" for i in range(len(w))]
    if len(j) != len(w) or len(labs) != len(w):
        raise ValueError(f"risk_of_bias: weights ({len(w)}), judgements ({len(j)}) and labels "
                         f"({len(labs)}) must have the same length")
    for lab, wi, ji in zip(labs, w, j):
        if not np.isfinite(wi) or wi < 0:
            raise ValueError(f"{lab}: field 'weight' must be a finite number >= 0 (got {wi!r})")
        if ji not in ROB_LABELS:
            raise ValueError(f"{lab}: field 'judgement' must be one of {ROB_LABELS} (got {ji!r})")
    if len(w) == 0 or w.sum() <= 0:
        return _not_assessable("risk of bias", "no trial contributes weight to the analysis")
    share = w / w.sum()
    ja = np.asarray(j, dtype=object)
    high = float(share[ja == "high"].sum())
    some = float(share[ja == "some_concerns"].sum())
    na = float(share[ja == "not_assessable"].sum())
    at_risk = high + some + na
    n_na = int((ja == "not_assessable").sum())
    detail = (f"{_pct(high)} of the weight from trials at high risk, {_pct(some + na)} with some "
              f"concerns" + (f" (including {_pct(na)} from {n_na} trial{'s' if n_na > 1 else ''} not "
                             f"assessable, counted as some concerns)" if n_na else "")
              + f", {_pct(1 - at_risk)} at low risk (k = {len(w)})")
    if high > very_serious:
        return _judge("risk of bias", 2, f"{detail}; more than {_pct(very_serious)} of the weight "
                                         f"at high risk.")
    if at_risk > serious:
        return _judge("risk of bias", 1, f"{detail}; more than {_pct(serious)} of the weight at "
                                         f"high risk or with some concerns.")
    return _judge("risk of bias", 0, f"{detail}; most of the weight is at low risk.")


# --------------------------------------------------------------------------- inconsistency

def inconsistency(i2, tau, pi_low, pi_high, k, *, threshold=0.0, i2_serious=50.0,
                  i2_very_serious=75.0) -> Judgement:
    """Inconsistency: I2 together with where the prediction interval lies.

    Parameters
    ----------
    i2 : float
        I2 in percent.
    tau : float
        Between-trial SD (reported in the reason).
    pi_low, pi_high : float
        The 95% prediction interval for the true effect in a new trial.
    k : int
        Number of trials.
    threshold : float
        The smallest effect that matters, on the SMD scale (0 = the null; pass the MID to ask
        whether true effects may be important in both directions).
    i2_serious, i2_very_serious : float
        I2 thresholds in percent (defaults 50 and 75).

    Returns
    -------
    Judgement
        * ``k < 2``: "not assessable" (one trial cannot be inconsistent with itself).
        * very serious (2): ``I2 >= i2_very_serious`` and the prediction interval reaches both
          an important benefit and an important harm (``pi_low < -threshold`` and
          ``pi_high > threshold``).
        * serious (1): ``I2 >= i2_serious`` and the prediction interval crosses the null
          (true effects on both sides of it are expected).
        * not serious otherwise: small I2, or large I2 whose trials all point the same way.

    Notes
    -----
    GRADE rates down when point estimates vary widely, confidence intervals overlap little
    and I2 is large, but not when all trials show an important effect in the same direction
    (Guyatt et al. 2011, J Clin Epidemiol 64:1294, "GRADE guidelines 7"). I2 bands follow the
    Cochrane Handbook 10.10.2 (50-90% "substantial", 75-100% "considerable"). The prediction
    interval (Riley et al. 2011, BMJ 342:d549) expresses the spread of true effects on the
    effect scale, which I2 alone does not. With ``threshold = 0`` the two-level rule reads
    "I2 >= 75% and the prediction interval crosses the null".
    """
    k = int(k)
    i2, tau = _finite(i2, "i2"), _finite(tau, "tau")
    lo, hi = _finite(pi_low, "pi_low"), _finite(pi_high, "pi_high")
    t = abs(_finite(threshold, "threshold"))
    if k < 2:
        return _not_assessable("inconsistency", f"k = {k}: one trial cannot show inconsistency.")
    if not (np.isfinite(i2) and np.isfinite(lo) and np.isfinite(hi)):
        return _not_assessable("inconsistency", f"k = {k}, but I2 or the prediction interval "
                                                f"is not available.")
    if lo > hi:
        raise ValueError(f"inconsistency: pi_low ({lo}) is above pi_high ({hi})")
    desc = (f"I2 = {i2:.0f}%, tau = {fmt_est(tau)}, 95% prediction interval {fmt_est(lo)} to "
            f"{fmt_est(hi)} (k = {k})")
    both_important = lo < -t and hi > t
    crosses = lo < 0 < hi
    if i2 >= i2_very_serious and both_important:
        what = "the null" if t == 0 else f"both −{t:g} and {t:g} (important benefit and harm)"
        return _judge("inconsistency", 2, f"{desc}; I2 >= {i2_very_serious:g}% and the prediction "
                                          f"interval extends beyond {what}.")
    if i2 >= i2_serious and crosses:
        return _judge("inconsistency", 1, f"{desc}; I2 >= {i2_serious:g}% and the prediction "
                                          f"interval crosses the null.")
    if i2 >= i2_serious:
        return _judge("inconsistency", 0, f"{desc}; I2 is large but the prediction interval lies "
                                          f"on one side of the null.")
    return _judge("inconsistency", 0, f"{desc}; I2 < {i2_serious:g}%.")


# --------------------------------------------------------------------------- indirectness

UNKNOWN = ("", "unclear", "nan", "none", "not_reported")
DEFAULT_DIRECT = {"diagnosis_kind": ("clinical_diagnosis",)}


def indirectness(rows, *, direct: Mapping[str, Sequence[str]] | None = None, weight="weight",
                 label="study", serious=0.5, record: Mapping | None = None) -> Judgement:
    """Indirectness: the share of weight from trials whose population, treatment context or
    outcome differs from the review question.

    Parameters
    ----------
    rows : DataFrame or iterable of mappings
        One row per trial with a ``weight`` column and one column per fact named in
        ``direct`` (e.g. ``diagnosis_kind`` from trials.csv, ``adjunct``, ``rater``/``scale``).
    direct : mapping column -> allowed values
        The values that answer the review question directly. Default
        ``{"diagnosis_kind": ("clinical_diagnosis",)}``: the question is about people with
        a diagnosed depressive disorder, so trials that enrolled by a symptom-scale cut-off
        are indirect. Add e.g. ``"adjunct": ("yes",)`` for a question about adjunctive use.
        Values ``unclear``/empty are unknown, neither direct nor indirect.
    weight, label : str
        Column names of the weight and of the trial label.
    serious : float
        Share of weight (default 0.5) above which a fact makes the evidence indirect.
    record : mapping, optional
        A recorded judgement ``{"downgrade": 0|1|2, "reason": "...", "source": "..."}``,
        used when the rule cannot decide (see Returns).

    Returns
    -------
    Judgement
        * serious (1): for some fact, more than ``serious`` of the weight is from trials with
          a known value outside ``direct``.
        * otherwise, if for some fact the unknown share is so large that the indirect share
          could exceed ``serious`` (indirect + unknown > ``serious``): the recorded
          judgement ``record`` with its reason, or "not assessable" when none is given.
        * not serious otherwise.
        The rule never rates down two levels by itself; a recorded judgement may.

    Notes
    -----
    GRADE rates down for indirectness when the population, intervention, comparator or
    outcome of the trials differ from those of the question in ways likely to change the
    effect (Guyatt et al. 2011, J Clin Epidemiol 64:1303, "GRADE guidelines 8"); as for risk
    of bias, the body of evidence is judged by where most of the weight lies. Whether a
    difference is "likely to change the effect" is the judgement the ``direct`` mapping
    states in advance.
    """
    frame = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows)
    direct = dict(DEFAULT_DIRECT if direct is None else direct)
    if record is not None:
        if record.get("downgrade") not in (0, 1, 2) or not str(record.get("reason", "")).strip():
            raise ValueError("indirectness: record needs 'downgrade' (0, 1 or 2) and a non-empty "
                             "'reason'")
    if frame.empty:
        if record is not None:
            return _recorded(record, "no trial in the analysis")
        return _not_assessable("indirectness", "no trial contributes weight to the analysis")
    for col in [weight, *direct]:
        if col not in frame.columns:
            raise ValueError(f"indirectness: rows have no column {col!r}")
    labs = frame[label].astype(str) if label in frame.columns else pd.Series(
        [f"trial {i + 1}" for i in range(len(frame))])
    w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)
    for lab, wi in zip(labs, w):
        if not np.isfinite(wi) or wi < 0:
            raise ValueError(f"{lab}: field {weight!r} must be a finite number >= 0 (got {wi!r})")
    if w.sum() <= 0:
        return _not_assessable("indirectness", "no trial contributes weight to the analysis")
    share = w / w.sum()
    parts, undecided, indirect_facts = [], [], []
    for col, ok in direct.items():
        values = frame[col].astype(str).str.strip().str.lower()
        unknown = values.isin(UNKNOWN).to_numpy()
        indirect = (~unknown) & ~values.isin([str(v).lower() for v in ok]).to_numpy()
        s_ind, s_unk = float(share[indirect].sum()), float(share[unknown].sum())
        parts.append(f"{col}: {_pct(s_ind)} of the weight outside {'/'.join(ok)}"
                     + (f", {_pct(s_unk)} unknown" if s_unk else ""))
        if s_ind > serious:
            indirect_facts.append(col)
        elif s_ind + s_unk > serious:
            undecided.append(col)
    desc = "; ".join(parts) + f" (k = {len(frame)})"
    if indirect_facts:
        return _judge("indirectness", 1, f"{desc}; more than {_pct(serious)} of the weight is "
                                         f"indirect for {', '.join(indirect_facts)}.")
    if undecided:
        if record is not None:
            return _recorded(record, f"{desc}; the rule cannot decide for {', '.join(undecided)}")
        return _not_assessable("indirectness", f"{desc}; too much of the weight is unknown for "
                                               f"{', '.join(undecided)} and no judgement is recorded.")
    return _judge("indirectness", 0, f"{desc}; most of the weight answers the question directly.")


def _recorded(record: Mapping, why: str) -> Judgement:
    src = f" [{record['source']}]" if record.get("source") else ""
    return _judge("indirectness", int(record["downgrade"]),
                  f"{why}; recorded judgement: {str(record['reason']).strip()}{src}.")


# --------------------------------------------------------------------------- imprecision

def optimal_information_size(mid, *, alpha=0.05, power=0.8) -> int:
    """Total participants a two-arm trial needs to detect an SMD of ``mid``.

    Notes
    -----
    Per group ``n = 2 (z_{1-alpha/2} + z_{power})^2 / d^2`` (normal approximation for the
    comparison of two means with unit SD; e.g. Cohen 1988, ch. 2), rounded up; the total is
    twice that. GRADE calls this the optimal information size (Guyatt et al. 2011, J Clin
    Epidemiol 64:1283, "GRADE guidelines 6", continuous outcomes). For ``d = 0.2``: 393 per
    group, 786 in all.
    """
    d = abs(_finite(mid, "mid"))
    if not np.isfinite(d) or d == 0:
        raise ValueError(f"optimal_information_size: field 'mid' must be a non-zero number (got {mid!r})")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("optimal_information_size: alpha and power must lie in (0, 1)")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 2 * int(math.ceil(2 * z ** 2 / d ** 2))


def imprecision(estimate, ci_low, ci_high, n_total, *, mid, ois=None, alpha=0.05,
                power=0.8) -> Judgement:
    """Imprecision: the confidence interval against the null and the MID, and the total
    sample against the optimal information size (OIS).

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        Pooled SMD and its 95% CI.
    n_total : int
        Participants in the analysis (both arms, all trials).
    mid : float
        The minimal important difference on the SMD scale (required: the caller states its
        source, e.g. 0.24 for depression, Cuijpers et al. 2014, Depress Anxiety 31:374).
    ois : int, optional
        The optimal information size; default :func:`optimal_information_size` of ``mid``
        with ``alpha`` and ``power``.

    Returns
    -------
    Judgement
        * very serious (2): the CI includes both an important benefit and an important harm
          (``ci_low < -mid`` and ``ci_high > mid``), or the CI crosses the null *and*
          ``n_total < ois`` (both criteria fail).
        * serious (1): the CI crosses the null, or ``n_total < ois`` (one criterion fails).
        * not serious: the CI excludes the null and the OIS is met.
        No estimate: "not assessable".

    Notes
    -----
    For systematic reviews GRADE first asks whether the 95% CI excludes no effect, then
    whether the total sample meets the OIS; a CI including appreciable benefit and harm
    calls for rating down two levels (Guyatt et al. 2011, J Clin Epidemiol 64:1283, "GRADE
    guidelines 6"; GRADE Handbook section 5.2; Cochrane Handbook ch. 14, section 14.2). A CI that touches the
    null (a bound equal to 0) counts as crossing it.
    """
    est, lo, hi = (_finite(x, n) for x, n in ((estimate, "estimate"), (ci_low, "ci_low"),
                                               (ci_high, "ci_high")))
    m = abs(_finite(mid, "mid"))
    if not (np.isfinite(est) and np.isfinite(lo) and np.isfinite(hi)):
        return _not_assessable("imprecision", "no pooled estimate.")
    if lo > hi:
        raise ValueError(f"imprecision: ci_low ({lo}) is above ci_high ({hi})")
    ois = optimal_information_size(m, alpha=alpha, power=power) if ois is None else int(ois)
    n = _finite(n_total, "n_total")
    crosses = lo <= 0 <= hi
    both = lo < -m and hi > m
    small = np.isfinite(n) and n < ois
    ci_txt = f"SMD {fmt_est(est)} (95% CI {fmt_est(lo)} to {fmt_est(hi)})"
    n_txt = (f"{int(n)} participants against an OIS of {ois} (MID {m:g}, alpha {alpha:g}, power "
             f"{power:g})" if np.isfinite(n) else f"total participants not known (OIS {ois} not checked)")
    facts = [f"the CI {'crosses' if crosses else 'excludes'} the null"]
    if both:
        facts.append(f"it includes both −{m:g} and {m:g} (important benefit and harm)")
    facts.append("the OIS is not met" if small else ("the OIS is met" if np.isfinite(n) else
                                                     "the OIS is not checked"))
    reason = f"{ci_txt}; {n_txt}; " + ", ".join(facts) + "."
    if both or (crosses and small):
        return _judge("imprecision", 2, reason)
    if crosses or small:
        return _judge("imprecision", 1, reason)
    return _judge("imprecision", 0, reason)


# --------------------------------------------------------------------------- publication bias

def publication_bias(k, egger_p=None, *, rank_p=None, alpha=0.10, min_k=10) -> Judgement:
    """Publication bias: small-study tests when there are enough trials.

    Parameters
    ----------
    k : int
        Number of trials in the analysis.
    egger_p, rank_p : float, optional
        p-values of Egger's regression test and of Begg's rank test (``gm.egger_test``,
        ``gm.rank_test``).
    alpha : float
        Significance level of the tests (default 0.10, the usual level for these
        low-powered tests).
    min_k : int
        Fewest trials for which the tests are interpreted (default 10).

    Returns
    -------
    Judgement
        * ``k < min_k``: "not assessable" (tests have too little power).
        * no test result given: "not assessable".
        * serious (1): a test has ``p < alpha`` (funnel-plot asymmetry).
        * not serious otherwise.
        Never two levels: asymmetry is not proof of publication bias.

    Notes
    -----
    Tests for funnel-plot asymmetry should be used only with at least 10 trials (Sterne et
    al. 2011, BMJ 343:d4002; Cochrane Handbook ch. 13). GRADE rates down one level when
    publication bias is "strongly suspected" (Guyatt et al. 2011, J Clin Epidemiol 64:1277,
    "GRADE guidelines 5"); asymmetry can also come from heterogeneity or chance, hence one
    level at most.
    """
    k = int(k)
    if k < min_k:
        return _not_assessable("publication bias", f"k = {k}: fewer than {min_k} trials, too few "
                                                   f"for small-study tests.")
    ps = {name: p for name, p in (("Egger", egger_p), ("rank", rank_p)) if p is not None}
    if not ps:
        return _not_assessable("publication bias", f"k = {k}, but no small-study test was run.")
    for name, p in ps.items():
        if not 0 <= _finite(p, f"{name}_p") <= 1:
            raise ValueError(f"publication_bias: {name} p-value must lie in [0, 1] (got {p!r})")
    txt = ", ".join(f"{name} test p = {p:.3f}" for name, p in ps.items()) + f" (k = {k})"
    if any(p < alpha for p in ps.values()):
        return _judge("publication bias", 1, f"{txt}; funnel-plot asymmetry at p < {alpha:g}.")
    return _judge("publication bias", 0, f"{txt}; no funnel-plot asymmetry at p < {alpha:g}.")


# --------------------------------------------------------------------------- overall

@dataclass(frozen=True)
class Certainty:
    """The overall certainty of one body of evidence.

    certainty : "high", "moderate", "low" or "very low".
    start : the starting level ("high" for randomised trials).
    downgrades : total levels rated down (before the floor at "very low").
    footnotes : one sentence per domain rated down, "domain rated down n level(s): reason".
    judgements : the domain judgements, in the order given.
    """

    certainty: str
    start: str
    downgrades: int
    footnotes: tuple
    judgements: tuple = field(repr=False)


def overall(judgements: Iterable[Judgement], *, start="high") -> Certainty:
    """Overall certainty: the start level minus the sum of the domain downgrades, floored.

    Randomised trials start at "high" (Guyatt et al. 2011, J Clin Epidemiol 64:383; Balshem
    et al. 2011, J Clin Epidemiol 64:401, "GRADE guidelines 3"); each serious problem rates
    down one level, each very serious problem two, to no lower than "very low" (GRADE Handbook
    section 5; Cochrane Handbook ch. 14, section 14.2).
    Rating up (large effect, dose response) applies to observational evidence and is not done.
    """
    js = tuple(judgements)
    if start not in LEVELS:
        raise ValueError(f"overall: start must be one of {LEVELS} (got {start!r})")
    seen = set()
    for j in js:
        if not isinstance(j, Judgement):
            raise ValueError(f"overall: expected Judgement objects (got {type(j).__name__})")
        if j.domain in seen:
            raise ValueError(f"overall: domain {j.domain!r} judged twice")
        seen.add(j.domain)
    total = sum(j.downgrade for j in js)
    level = LEVELS[min(LEVELS.index(start) + total, len(LEVELS) - 1)]
    notes = tuple(f"{j.domain.capitalize()} rated down {j.downgrade} level{'s' if j.downgrade > 1 else ''}: "
                  f"{j.reason}" for j in js if j.downgrade)
    return Certainty(level, start, total, notes, js)


# --------------------------------------------------------------------------- display helpers

def back_transform(smd, sd):
    """An SMD re-expressed as points on a familiar scale: ``smd * sd``.

    ``sd`` is a typical SD of the scale (e.g. the pooled baseline SD of the trials, or a
    population SD), whose source the caller states. Re-expressing SMDs by multiplying by a
    typical SD: Cochrane Handbook ch. 15, section 15.5; Guyatt et al. 2013, J Clin Epidemiol 66:173
    ("GRADE guidelines 13", continuous outcomes). Accepts scalars or arrays.
    """
    s = _finite(sd, "sd")
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"back_transform: field 'sd' must be a positive number (got {sd!r})")
    out = np.asarray(smd, dtype=float) * s
    return float(out) if out.ndim == 0 else out


def _points(x: float, digits: int) -> str:
    v = round(abs(x), digits)
    if v == 0:
        return f"{0:.{digits}f}"
    return f"{v:.{digits}f} {'lower' if x < 0 else 'higher'}"


def interpretation(estimate, ci_low, ci_high, *, sd, scale, sd_source, digits=1) -> str:
    """The SMD back-transformed to ``scale`` points, with the SD and its source, e.g.
    ``"2.1 points lower on HAM-D (3.4 lower to 0.8 lower); SD 7 from (source)"`` (negative =
    lower scores in the treatment group)."""
    e, lo, hi = (back_transform(x, sd) for x in (estimate, ci_low, ci_high))
    head = _points(e, digits)
    head = head.replace(" ", " points ", 1) if " " in head else f"{head} points"
    return (f"{head} on {scale} ({_points(lo, digits)} to {_points(hi, digits)}); SD {sd:g} "
            f"from {sd_source}")


_MARKS = "abcdefghijklmnopqrstuvwxyz"


def _mark(i: int) -> str:
    return _MARKS[i] if i < len(_MARKS) else f"{_MARKS[i // 26 - 1]}{_MARKS[i % 26]}"


def summary_of_findings(rows: Iterable[Mapping]) -> pd.DataFrame:
    """A GRADE summary-of-findings table, one row per outcome (or analysis).

    Parameters
    ----------
    rows : iterable of mappings, each with
        ``outcome``; ``k``; ``participants``; ``estimate``, ``ci_low``, ``ci_high`` (SMD);
        ``judgements`` (the five :class:`Judgement` objects); optional ``analysis`` (e.g.
        "REML" or "Bayesian"), ``interpretation`` (text; else built by
        :func:`interpretation` from ``sd``, ``scale`` and ``sd_source`` when given),
        ``interval`` (name of the interval, default "95% CI"), ``published`` (a published
        meta-analysis' own certainty statement, with its source).

    Returns
    -------
    DataFrame
        Columns: outcome, analysis, trials (k), participants, effect (SMD with interval),
        interpretation, one column per GRADE domain (label plus footnote marker), certainty,
        footnotes (the marked reasons), published certainty. Footnote markers run a, b, c
        ... through the table; each downgrade and each "not assessable" gets one. A row with
        ``k = 0`` says "not estimable" and has no rating. Pure function of its inputs.

    Notes
    -----
    Layout after the GRADE summary-of-findings table (Guyatt et al. 2013, J Clin Epidemiol
    66:158 and 66:173, "GRADE guidelines 12-13"; Cochrane Handbook ch. 14, section 14.1).
    """
    out, mark = [], 0
    for spec in rows:
        for key in ("outcome", "k", "participants", "estimate", "ci_low", "ci_high", "judgements"):
            if key not in spec:
                raise ValueError(f"summary_of_findings: row {spec.get('outcome', '?')!r} has no {key!r}")
        k = int(spec["k"])
        row = {"outcome": spec["outcome"], "analysis": spec.get("analysis", ""), "trials (k)": k,
               "participants": (int(spec["participants"]) if pd.notna(spec["participants"]) else None)}
        est, lo, hi = (float(spec[x]) for x in ("estimate", "ci_low", "ci_high"))
        published = spec.get("published", "")
        if k == 0 or not np.isfinite(est):
            row.update({"effect": "not estimable", "interpretation": "no trial with usable numbers"})
            row.update({d: "–" for d in DOMAINS})
            row.update({"certainty": "–", "footnotes": "", "published certainty": published})
            out.append(row)
            continue
        interval = spec.get("interval", "95% CI")
        row["effect"] = f"SMD {fmt_est(est)} ({interval} {fmt_est(lo)} to {fmt_est(hi)})"
        if spec.get("interpretation"):
            row["interpretation"] = spec["interpretation"]
        elif spec.get("sd") is not None:
            row["interpretation"] = interpretation(est, lo, hi, sd=spec["sd"],
                                                   scale=spec.get("scale", "the scale"),
                                                   sd_source=spec.get("sd_source", "source not given"))
        else:
            row["interpretation"] = ""
        js = {j.domain: j for j in spec["judgements"]}
        missing = [d for d in DOMAINS if d not in js]
        if missing:
            raise ValueError(f"summary_of_findings: row {spec['outcome']!r} lacks judgements for {missing}")
        cert = overall([js[d] for d in DOMAINS])
        notes = []
        for d in DOMAINS:
            j = js[d]
            if j.downgrade or j.label == NOT_ASSESSABLE:
                m = _mark(mark)
                mark += 1
                row[d] = f"{j.label} ({m})"
                notes.append(f"({m}) {d.capitalize()}: {j.reason}")
            else:
                row[d] = j.label
        row.update({"certainty": cert.certainty, "footnotes": " ".join(notes),
                    "published certainty": published})
        out.append(row)
    cols = ["outcome", "analysis", "trials (k)", "participants", "effect", "interpretation", *DOMAINS,
            "certainty", "footnotes", "published certainty"]
    return pd.DataFrame(out, columns=cols)


__all__ = ["Judgement", "Certainty", "risk_of_bias", "inconsistency", "indirectness", "imprecision",
           "optimal_information_size", "publication_bias", "overall", "back_transform", "interpretation",
           "summary_of_findings", "DOMAINS", "LEVELS"]
