"""What published summary figures imply, and what extraction errors do to a pooled SMD.

Everything here starts from numbers a paper prints (pooled estimate, CI, k, n, I2) and states
its assumptions; nothing is fitted to per-study data that we do not have.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import effects
from .pooling import pool


def se_from_ci(low, high, level=0.95):
    """Standard error of a pooled estimate from its symmetric CI: ``(high - low) / (2 z)``."""
    z = stats.norm.ppf(1 - (1 - level) / 2)
    return (np.asarray(high, float) - np.asarray(low, float)) / (2 * z)


def p_from_ci(estimate, low, high, level=0.95):
    """Two-sided Wald p-value implied by an estimate and its CI (Altman & Bland 2011, BMJ 343:d2090)."""
    se = se_from_ci(low, high, level)
    return 2 * stats.norm.sf(np.abs(np.asarray(estimate, float)) / se)


def ci_asymmetry(estimate, low, high):
    """``(high - estimate) - (estimate - low)``: 0 for a Wald CI on the reported scale."""
    return (np.asarray(high, float) - estimate) - (estimate - np.asarray(low, float))


def typical_smd_variance(n_total, k, estimate=0.0):
    """Within-study variance of an SMD for a typical study of the meta-analysis.

    Assumes ``k`` equal studies of ``N = n_total / k`` participants in two equal arms:
    ``v = 4 / N + g^2 / (2 N)`` (the large-sample variance of :func:`gutmeta.smd`).
    """
    n = np.asarray(n_total, float) / np.asarray(k, float)
    return 4 / n + np.asarray(estimate, float) ** 2 / (2 * n)


def implied_tau2(i2, vt):
    """tau2 implied by I2 (percent) and a typical within-study variance ``vt``.

    Inverts ``I2 = tau2 / (tau2 + vt)`` (Higgins & Thompson 2002, Stat Med 21:1539):
    ``tau2 = vt * I2 / (100 - I2)``.
    """
    i2 = np.asarray(i2, float)
    return np.asarray(vt, float) * i2 / (100 - i2)


def prediction_interval(estimate, se, tau2, k=None, level=0.95):
    """``estimate -/+ q sqrt(tau2 + se^2)``; ``q`` is t(k - 2) when ``k`` is given
    (Higgins, Thompson & Spiegelhalter 2009, JRSS A 172:137), else z (metafor 3.8)."""
    a = 1 - level
    q = stats.t.ppf(1 - a / 2, k - 2) if k is not None else stats.norm.ppf(1 - a / 2)
    half = q * np.sqrt(np.asarray(tau2, float) + np.asarray(se, float) ** 2)
    return estimate - half, estimate + half


def _decimals(x: float) -> int:
    text = repr(float(x))
    return len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 0


def p_consistent(printed: str, estimate: float, low: float, high: float) -> bool | None:
    """Is a printed p-value compatible with the printed estimate and CI?

    The CI bounds are known only to their printed decimals, so the implied p is a range (each
    bound moved by half a unit of its last digit); an exact printed p is a range too (half a
    unit of its last digit). ``"< x"`` is compatible when the smallest implied p is below x.
    Returns None when nothing is printed or it cannot be read.
    """
    text = str(printed).replace(" ", "")
    if not text:
        return None
    bound = text.startswith("<")
    try:
        value = float(text.lstrip("<=").lstrip("P=").lstrip("p="))
    except ValueError:
        return None
    d = max(_decimals(low), _decimals(high))
    h = 0.5 * 10.0 ** (-d)
    ses = [se_from_ci(low + a, high + b) for a in (-h, h) for b in (-h, h)]
    ests = [estimate - h, estimate + h]
    ps = [float(p_from_ci(e, e - 1.959963984540054 * s, e + 1.959963984540054 * s)) for e in ests for s in ses]
    p_lo, p_hi = min(ps), max(ps)
    if bound:
        return p_lo < value
    dp = _decimals(value)
    return not (p_hi < value - 0.5 * 10.0 ** (-dp) or p_lo > value + 0.5 * 10.0 ** (-dp))


def audit_published(published: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """Back-calculations and consistency checks for each printed pooled SMD.

    For rows with an estimate and a CI: the implied SE, the p-value that the CI implies and
    whether a printed p agrees with it (:func:`p_consistent`), the CI's asymmetry (flagged when larger than the rounding of ``digits`` decimals allows,
    ``2 * 0.5 * 10^-digits``), and, where I2, k and n are printed, the implied tau2 and 95%
    prediction interval under the equal-study assumption of :func:`typical_smd_variance`.
    """
    rows = []
    tol = 10.0 ** (-digits)
    for _, r in published.iterrows():
        if not (np.isfinite(r["estimate"]) and np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])):
            continue
        est, lo, hi = r["estimate"], r["ci_low"], r["ci_high"]
        se = float(se_from_ci(lo, hi))
        asym = float(ci_asymmetry(est, lo, hi))
        row = {"meta_analysis": r["meta_analysis"], "outcome": r["outcome"], "intervention": r["intervention"],
               "analysis": r["analysis"], "measure": r["measure"], "sign_convention": r.get("sign_convention", ""),
               "k": r["k"], "estimate": est, "ci_low": lo,
               "ci_high": hi, "se": se, "implied_p": float(p_from_ci(est, lo, hi)), "ci_asymmetry": asym,
               "ci_consistent": bool(abs(asym) <= tol + 1e-12 and lo <= est <= hi),
               "printed_p": r.get("p", ""), "p_consistent": p_consistent(r.get("p", ""), est, lo, hi),
               "i2": r["i2"], "vt": np.nan, "implied_tau2": np.nan, "pi_low": np.nan, "pi_high": np.nan,
               "verified": r["verified"]}
        if np.isfinite(r["i2"]) and np.isfinite(r["k"]) and np.isfinite(r["n_total"]) and r["k"] >= 3 \
                and r["measure"] in ("SMD", "g", "d"):
            vt = float(typical_smd_variance(r["n_total"], r["k"], est))
            tau2 = float(implied_tau2(r["i2"], vt))
            pl, ph = prediction_interval(est, se, tau2, k=int(r["k"]))
            row.update(vt=vt, implied_tau2=tau2, pi_low=float(pl), pi_high=float(ph))
        rows.append(row)
    return pd.DataFrame(rows)


def arm_count_check(n_treatment, n_control):
    """How many control participants would be missing if arms were 1:1.

    Returns ``(ratio, excess)`` with ``ratio = n_treatment / n_control`` and ``excess =
    n_treatment - n_control``: in two-arm 1:1 trials the ratio is near 1; a ratio far above
    1 points to multi-arm trials or to shared control groups (counted once in the totals
    but used for several comparisons, Cochrane Handbook 23.3.4).
    """
    return n_treatment / n_control, n_treatment - n_control


# --------------------------------------------------------------------------- simulation

@dataclass(frozen=True)
class SimulationSetup:
    k: int = 19
    true_smd: float = -0.4
    tau: float = 0.15
    n_min: int = 15
    n_max: int = 40
    sd: float = 8.0
    prepost_r: float = 0.7
    seed: int = 20251127


def _simulate_arms(setup: SimulationSetup, rng):
    n1 = rng.integers(setup.n_min, setup.n_max + 1, setup.k)
    n2 = rng.integers(setup.n_min, setup.n_max + 1, setup.k)
    delta = rng.normal(setup.true_smd, setup.tau, setup.k)
    m1 = rng.normal(delta * setup.sd, setup.sd / np.sqrt(n1))
    m2 = rng.normal(0.0, setup.sd / np.sqrt(n2))
    s1 = setup.sd * np.sqrt(rng.chisquare(n1 - 1) / (n1 - 1))
    s2 = setup.sd * np.sqrt(rng.chisquare(n2 - 1) / (n2 - 1))
    return pd.DataFrame({"n1": n1, "m1": m1, "s1": s1, "n2": n2, "m2": m2, "s2": s2})


def _pool_arms(arms, method):
    yi, vi = effects.smd(arms.m1, arms.s1, arms.n1, arms.m2, arms.s2, arms.n2)
    return pool(yi, vi, method=method)


def simulate_extraction_errors(setup: SimulationSetup | None = None, *, method="REML", reps=200):
    """What common extraction errors do to a pooled SMD and I2 (seeded Monte Carlo).

    For ``reps`` simulated meta-analyses of ``k`` two-arm trials (true SMD ``true_smd``,
    between-trial SD ``tau``, arms of ``n_min``..``n_max``), each scenario corrupts the
    extracted numbers and the data are pooled with ``method``:

    * ``clean``: as simulated.
    * ``SE as SD, 1 trial``: the smallest trial's SDs replaced by their SEs (``SD / sqrt(n)``).
    * ``SE as SD, 3 trials`` / ``5 trials``: the same in the three / five smallest trials.
    * ``change SD in half the trials``: post-score mean differences divided by change-score
      SDs, ``SD * sqrt(2 (1 - r))`` with pre-post correlation ``r``, in every second trial.
    * ``control counted twice, 5 trials``: five trials are split into two arms each against
      the full, shared control group (a unit-of-analysis error).

    Returns the median over replications of the pooled estimate, its CI, I2 and tau2, and the
    share of replications whose I2 exceeds 90 %.
    """
    setup = setup or SimulationSetup()
    rng = np.random.default_rng(setup.seed)
    factor = np.sqrt(2 * (1 - setup.prepost_r))
    results = {name: [] for name in ("clean", "SE as SD, 1 trial", "SE as SD, 3 trials", "SE as SD, 5 trials",
                                     "change SD in half the trials", "control counted twice, 5 trials")}
    for _ in range(reps):
        arms = _simulate_arms(setup, rng)
        order = np.argsort((arms.n1 + arms.n2).to_numpy())
        results["clean"].append(_pool_arms(arms, method))
        for name, m in (("SE as SD, 1 trial", 1), ("SE as SD, 3 trials", 3), ("SE as SD, 5 trials", 5)):
            bad = arms.copy()
            idx = order[:m]
            bad.loc[idx, "s1"] = arms.s1[idx] / np.sqrt(arms.n1[idx])
            bad.loc[idx, "s2"] = arms.s2[idx] / np.sqrt(arms.n2[idx])
            results[name].append(_pool_arms(bad, method))
        bad = arms.copy()
        half = np.arange(0, setup.k, 2)
        bad.loc[half, "s1"] *= factor
        bad.loc[half, "s2"] *= factor
        results["change SD in half the trials"].append(_pool_arms(bad, method))
        # five trials become two treatment arms each, both compared with the whole control arm
        twice = arms.copy()
        dup = arms.iloc[order[-5:]].copy()
        dup["n1"] = np.maximum(2, dup.n1 // 2)
        twice.loc[dup.index, "n1"] = dup["n1"]
        dup["m1"] = rng.normal((setup.true_smd * setup.sd), setup.sd / np.sqrt(dup.n1))
        twice = pd.concat([twice, dup], ignore_index=True)
        results["control counted twice, 5 trials"].append(_pool_arms(twice, method))
    rows = []
    for name, fits in results.items():
        rows.append({"scenario": name,
                     "estimate": float(np.median([f.estimate for f in fits])),
                     "ci_low": float(np.median([f.ci_low for f in fits])),
                     "ci_high": float(np.median([f.ci_high for f in fits])),
                     "i2": float(np.median([f.i2 for f in fits])),
                     "tau2": float(np.median([f.tau2 for f in fits])),
                     "share_i2_over_90": float(np.mean([f.i2 > 90 for f in fits])),
                     "k": int(np.median([f.k for f in fits]))})
    return pd.DataFrame(rows)


def count_checks(published: pd.DataFrame) -> pd.DataFrame:
    """Do a meta-analysis's per-intervention trial counts add up to its total?

    For each meta-analysis that prints the number of trials with data for meta-analysis
    (an ``analysis`` starting with "review: trials with data"), the ``k`` of its overall
    per-intervention analyses of one outcome are summed. A sum above the total means that at
    least ``sum - total`` trials entered two analyses of that outcome, as a multi-arm trial
    with, say, a probiotic and a prebiotic arm against one placebo group does.
    """
    rows = []
    totals = published[published["analysis"].str.startswith("review: trials with data")]
    for _, t in totals.iterrows():
        own = published[(published["meta_analysis"] == t["meta_analysis"]) & (published["analysis"] == "overall")
                        & (published["verified"] == "yes")]
        for outcome, sub in own.groupby("outcome"):
            parts = " + ".join(f"{int(k)} {i}" for i, k in zip(sub["intervention"], sub["k"]))
            total_k = float(sub["k"].sum())
            rows.append({"meta_analysis": t["meta_analysis"], "outcome": outcome, "analyses": parts,
                         "sum_of_k": int(total_k), "trials_with_data": int(t["k"]),
                         "at_least_counted_twice": int(max(0, total_k - t["k"]))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- one sign for all

def benefit_negative(frame: pd.DataFrame) -> pd.DataFrame:
    """Estimates and CIs of published results on the book's scale (negative = benefit).

    Each row is flipped by its own ``sign_convention`` (``positive_benefit`` rows are negated and
    their CI bounds swapped), never by its position in another table. A row with an estimate
    but no sign convention raises ``ValueError`` naming the meta-analysis and the analysis.
    """
    out = frame.copy()
    has = out["estimate"].notna()
    missing = has & ~out["sign_convention"].isin(["negative_benefit", "positive_benefit"])
    if missing.any():
        r = out[missing].iloc[0]
        raise ValueError(f"{r['meta_analysis']} ({r['analysis']}): column 'sign_convention' is missing, so the "
                         "direction of benefit is unknown")
    flip = out["sign_convention"].eq("positive_benefit").to_numpy()
    est, lo, hi = (out[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
    out["estimate"] = np.where(flip, -est, est)
    out["ci_low"] = np.where(flip, -hi, lo)
    out["ci_high"] = np.where(flip, -lo, hi)
    out["sign_convention"] = np.where(has, "negative_benefit", out["sign_convention"])
    return out


def short_label(row, width: int = 28) -> str:
    """A short readable label for a published result: 'Asad 2024 · probiotic · depression (k = 18)'."""
    key = str(row["meta_analysis"])
    parts = key.split("_")
    name = " ".join(p.capitalize() for p in parts[:-1] if not p.isdigit()) if len(parts) > 1 else key
    year = parts[-1] if parts[-1].isdigit() else ""
    what = str(row["intervention"]).split(" (")[0].split(",")[0]
    if len(what) > width:
        what = what[: width - 1].rstrip() + "…"
    k = row.get("k", np.nan)
    k_text = f" (k = {int(k)})" if isinstance(k, (int, float, np.floating)) and np.isfinite(k) else ""
    return f"{name} {year} · {what} · {row['outcome']}{k_text}".replace("  ", " ")


# --------------------------------------------------------------------------- what the unread trials must show

@dataclass(frozen=True)
class RemainingTrials:
    """What the trials this book cannot read would have to show for a published result to hold.

    ``mean_equal``: the average effect of the ``k_remaining`` unread trials under equal weights
    (the limit of random-effects weights when tau2 dwarfs the within-trial variances).
    ``mean_re``: the same with random-effects weights ``1/(v + tau2)``, the unread trials given
    the typical within-trial variance ``vt`` of the published analysis and the implied ``tau2``.
    ``*_low``/``*_high``: the same for the published CI bounds.
    """

    published: float
    ci_low: float
    ci_high: float
    k_published: int
    k_read: int
    k_remaining: int
    tau2: float
    vt: float
    mean_equal: float
    mean_re: float
    mean_re_low: float
    mean_re_high: float
    read_mean: float


def remaining_trials(published, ci_low, ci_high, k_published, i2, n_total, yi, vi) -> RemainingTrials:
    """The average effect the unread trials must have for a published pooled estimate to hold.

    Assumptions (stated in the chapter): the published analysis contains the ``m`` trials this
    book reads, with the effects ``yi`` (variances ``vi``) computed here, plus ``k - m`` others;
    ``tau2`` is the one implied by the published I2 for equal studies of ``n_total / k``
    participants (:func:`typical_smd_variance`, :func:`implied_tau2`); each unread trial has that
    typical within-trial variance. With random-effects weights ``w_i = 1/(v_i + tau2)`` the
    published estimate ``mu = (sum_read w_i y_i + (k - m) w_r ybar_r) / (sum_read w_i + (k - m) w_r)``
    is solved for the unread trials' mean ``ybar_r``; ``mean_equal`` is
    ``(k mu - sum_read y_i) / (k - m)`` (equal weights).
    """
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    k, m = int(k_published), len(y)
    if m >= k:
        raise ValueError(f"the book reads {m} trials, not fewer than the published {k}: nothing remains")
    if not (0 <= i2 < 100):
        raise ValueError(f"I2 must be in [0, 100) (got {i2!r})")
    vt = float(typical_smd_variance(n_total, k, published))
    tau2 = float(implied_tau2(i2, vt))
    w = 1 / (v + tau2)
    w_r = 1 / (vt + tau2)

    def solve(mu):
        return float((mu * (w.sum() + (k - m) * w_r) - np.sum(w * y)) / ((k - m) * w_r))

    return RemainingTrials(
        published=float(published), ci_low=float(ci_low), ci_high=float(ci_high), k_published=k, k_read=m,
        k_remaining=k - m, tau2=tau2, vt=vt, mean_equal=float((k * published - y.sum()) / (k - m)),
        mean_re=solve(published), mean_re_low=solve(ci_low), mean_re_high=solve(ci_high),
        read_mean=float(y.mean()))
