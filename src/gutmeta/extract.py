"""From the evidence files to one effect size per trial comparison, under stated choices.

Every analytic choice that changes which numbers enter the analysis is a field of
:class:`Choices`; :func:`effect_table` applies them and records, per row, which printed
numbers were used and which conversions were made, so a reader can follow each ``yi`` back
to its source. :func:`coverage` says, per trial and outcome, what could be used and why not.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import effects
from .evidence import Evidence


@dataclass(frozen=True)
class Choices:
    """The analytic choices of the evidence-to-effect step (defaults are the book's main analysis).

    outcome : "depression" or "anxiety".
    scale_order : "clinician_first" or "self_first": which scale represents a trial that
        reports several.
    prefer : "post" (end-of-treatment scores) or "change" (change from baseline) when a trial
        prints both; the other is used when only it is printed.
    unlabelled_as : how to read a "±" value whose kind the source does not state: "SD",
        "SE" or "exclude".
    include_derived : use effects derived from printed test statistics (t, F, exact p, d).
    include_secondary : use numbers that only a review reproduces ("secondary:" locators).
    include_cointervention : also use trials excluded only because the active arm received a
        co-intervention (SAMe, magnesium) that the control arm did not.
    exclude_open_label, exclude_high_risk : drop open-label trials / trials whose overall RoB 2
        judgement is "high".
    multi_arm : "split" the shared control among the treatment arms, or "combine" the
        treatment arms into one group (Cochrane Handbook 23.3.4).
    n_fallback : when a value's own group size is not printed, use the trial's analysed
        (else randomised) arm size from trials.csv, flagged.
    """

    outcome: str = "depression"
    scale_order: str = "clinician_first"
    prefer: str = "post"
    unlabelled_as: str = "SD"
    include_derived: bool = True
    include_secondary: bool = True
    include_cointervention: bool = False
    exclude_open_label: bool = False
    exclude_high_risk: bool = False
    multi_arm: str = "split"
    n_fallback: bool = True

    def __post_init__(self):
        allowed = {"outcome": ("depression", "anxiety"), "scale_order": ("clinician_first", "self_first"),
                   "prefer": ("post", "change"), "unlabelled_as": ("SD", "SE", "exclude"),
                   "multi_arm": ("split", "combine")}
        for name, options in allowed.items():
            if getattr(self, name) not in options:
                raise ValueError(f"Choices.{name} must be one of {options} (got {getattr(self, name)!r})")


COLUMNS = ["trial_id", "study", "comparison", "intervention_type", "outcome", "scale", "rater", "week",
           "basis", "derived", "secondary", "n_treatment", "n_control", "yi", "vi", "conversions",
           "source", "locator"]


def study_label(trial: pd.Series) -> str:
    return f"{trial['first_author']} {int(trial['year'])}"


def _eligible(ev: Evidence, ch: Choices) -> tuple:
    return _eligible_ids(ev, ch.include_cointervention, ch.exclude_open_label, ch.exclude_high_risk)


@functools.lru_cache(maxsize=64)
def _eligible_ids(ev: Evidence, include_cointervention, exclude_open_label, exclude_high_risk) -> tuple:
    t = ev.trials
    keep = t["eligible"] == "yes"
    if include_cointervention:
        keep |= t["exclusion_code"] == "co_intervention"
    if exclude_open_label:
        keep &= t["blinding"] != "open-label"
    if exclude_high_risk:
        high = set(ev.risk_of_bias.query("domain == 'overall' and judgement == 'high'")["trial_id"])
        keep &= ~t["trial_id"].isin(high)
    return tuple(t.loc[keep, "trial_id"])


def _scale_rank(rater: str, ch: Choices) -> int:
    first = "clinician" if ch.scale_order == "clinician_first" else "self"
    return 0 if rater == first else 1


def _arm_n(row, trial, role, ch, notes):
    if np.isfinite(row["n"]):
        return row["n"]
    if not ch.n_fallback:
        return np.nan
    for col in (f"n_anal_{'int' if role == 'treatment' else 'ctl'}", f"n_rand_{'int' if role == 'treatment' else 'ctl'}"):
        if np.isfinite(trial[col]):
            notes.append(f"n of arm '{row['arm']}' from trials.csv {col}")
            return trial[col]
    return np.nan


def _arm_summary(row, trial, ch, notes):
    """(n, mean, sd) of one arm from its printed values, or a reason string."""
    n = _arm_n(row, trial, row["arm_role"], ch, notes)
    kind = row["spread_kind"]
    if not np.isfinite(n):
        return f"group size of arm '{row['arm']}' not printed"
    if n < 2:
        return f"arm '{row['arm']}' has fewer than 2 participants"
    label = f"{trial['trial_id']} arm {row['arm']}"
    if row["center_kind"] == "median":
        if kind == "IQR":
            m, s = effects.mean_sd_from_median_iqr(row["center"], row["spread_low"], row["spread_high"], n,
                                                   labels=[label])
            notes.append(f"arm '{row['arm']}': mean and SD from median/IQR (Wan 2014)")
            return n, m[0], s[0]
        if kind == "range":
            m, s = effects.mean_sd_from_median_range(row["center"], row["spread_low"], row["spread_high"], n,
                                                     labels=[label])
            notes.append(f"arm '{row['arm']}': mean and SD from median/range (Wan 2014)")
            return n, m[0], s[0]
        return f"arm '{row['arm']}': a median without IQR or range"
    mean = row["center"]
    if kind == "SD" or (kind == "unlabelled" and ch.unlabelled_as == "SD"):
        if kind == "unlabelled":
            notes.append(f"arm '{row['arm']}': unlabelled ± read as SD")
        return n, mean, row["spread"]
    if kind == "SE" or (kind == "unlabelled" and ch.unlabelled_as == "SE"):
        notes.append(f"arm '{row['arm']}': SD = SE × √n" + (" (unlabelled ± read as SE)" if kind == "unlabelled" else ""))
        return n, mean, effects.sd_from_se(row["spread"], n, labels=[label])[0]
    if kind == "CI95":
        notes.append(f"arm '{row['arm']}': SD from the 95% CI of the mean (t quantile)")
        return n, mean, effects.sd_from_ci(row["spread_low"], row["spread_high"], n, labels=[label])[0]
    if kind == "unlabelled":
        return f"arm '{row['arm']}': unlabelled ± excluded by choice"
    return f"arm '{row['arm']}': no dispersion printed"


def _arm_level(trial, rows: pd.DataFrame, ch: Choices):
    """Effect rows from arm-level numbers for one trial, or a list of reasons why none."""
    reasons = []
    if not ch.include_secondary:
        rows = rows[~rows["locator"].str.startswith("secondary:")]
    if rows.empty:
        return [], ["no arm-level values"]
    scales = (rows.assign(rank=rows["rater"].map(lambda r: _scale_rank(r, ch)))
              .sort_values("rank", kind="stable")["scale"].drop_duplicates())
    bases = [ch.prefer, "change" if ch.prefer == "post" else "post"]
    for scale in scales:
        tried = False
        for basis in bases:
            sel = rows[(rows["scale"] == scale) & (rows["timepoint"] == basis)]
            if sel.empty:
                continue
            tried = True
            week = sel["week"].max()
            sel = sel[sel["week"] == week] if np.isfinite(week) else sel
            out, why = _comparisons(trial, sel, ch)
            if out:
                return out, []
            reasons.append(f"{scale} {basis}: {why}")
        if not tried:
            reasons.append(f"{scale}: only baseline values printed")
    return [], reasons


def _comparisons(trial, sel: pd.DataFrame, ch: Choices):
    treat = sel[sel["arm_role"] == "treatment"]
    ctrl = sel[sel["arm_role"] == "control"]
    if treat.empty or ctrl.empty:
        return [], "values for only one arm printed"
    notes: list[str] = []
    c_row = ctrl.iloc[0]
    c = _arm_summary(c_row, trial, ch, notes)
    if isinstance(c, str):
        return [], c
    t_sums = []
    for _, r in treat.iterrows():
        s = _arm_summary(r, trial, ch, notes)
        if isinstance(s, str):
            return [], s
        t_sums.append((r, s))
    pairs = []
    if len(t_sums) > 1 and ch.multi_arm == "combine":
        n, m, s = t_sums[0][1]
        for _, (n2, m2, s2) in t_sums[1:]:
            n, m, s = effects.combine_arms(n, m, s, n2, m2, s2)
        arms = " + ".join(r["arm"] for r, _ in t_sums)
        notes.append(f"treatment arms {arms} combined (Cochrane 23.3.4)")
        pairs.append((arms, "multiple", (n, m, s), c))
    else:
        parts = effects.split_control(c[0], len(t_sums)) if len(t_sums) > 1 else [c[0]]
        if len(t_sums) > 1:
            notes.append(f"control arm '{c_row['arm']}' (n = {int(c[0])}) split into {parts}")
        for (r, s), nc in zip(t_sums, parts):
            pairs.append((r["arm"], r["arm_type"], s, (nc, c[1], c[2])))
    out = []
    for arm, arm_type, (n1, m1, s1), (n2, m2, s2) in pairs:
        label = f"{trial['trial_id']}: {arm} vs {c_row['arm']}"
        yi, vi = effects.smd(m1, s1, n1, m2, s2, n2, labels=[label])
        yi = effects.orient(yi, c_row["direction"], labels=[label])
        out.append(_row(trial, sel.iloc[0], f"{arm} vs {c_row['arm']}", arm_type, sel.iloc[0]["timepoint"],
                        False, sel["locator"].str.startswith("secondary:").any(), n1, n2, yi[0], vi[0],
                        "; ".join(notes), "; ".join(sel["source"].unique()),
                        " || ".join(sel["locator"].unique())))
    return out, ""


def _row(trial, ref, comparison, arm_type, basis, derived, secondary, n1, n2, yi, vi, conv, source, locator):
    itype = arm_type if arm_type in ("probiotic", "prebiotic", "synbiotic") else trial["intervention_type"]
    return {"trial_id": trial["trial_id"], "study": study_label(trial), "comparison": comparison,
            "intervention_type": itype, "outcome": ref["outcome"], "scale": ref["scale"],
            "rater": ref.get("rater", ""), "week": ref["week"], "basis": basis, "derived": derived,
            "secondary": bool(secondary), "n_treatment": float(n1), "n_control": float(n2), "yi": float(yi),
            "vi": float(vi), "conversions": conv, "source": source, "locator": locator}


def _derived(trial, rows: pd.DataFrame, ch: Choices):
    """Effect rows from between-group statistics, or reasons why none."""
    reasons = []
    usable = rows[rows["use"] == "yes"]
    for _, r in rows[rows["use"] == "no"].iterrows():
        reasons.append(f"{r['scale']} {r['statistic']}: {r['use_reason']}")
    if not ch.include_secondary:
        usable = usable[~usable["locator"].str.startswith("secondary:")]
    if usable.empty:
        return [], reasons or ["no between-group statistic printed"]
    usable = usable.assign(rank=usable["rater"].map(lambda x: _scale_rank(x, ch)),
                           srank=usable["statistic"].map({"t": 0, "F": 1, "d": 2, "g": 2, "md": 3, "p": 4}))
    for _, r in usable.sort_values(["rank", "srank"], kind="stable").iterrows():
        notes: list[str] = []
        n1, n2 = r["n_treatment"], r["n_control"]
        if ch.n_fallback and not (np.isfinite(n1) and np.isfinite(n2)):
            for col_t, col_c in (("n_anal_int", "n_anal_ctl"), ("n_rand_int", "n_rand_ctl")):
                if np.isfinite(trial[col_t]) and np.isfinite(trial[col_c]):
                    n1, n2 = trial[col_t], trial[col_c]
                    notes.append(f"group sizes from trials.csv {col_t}/{col_c}")
                    break
        if not (np.isfinite(n1) and np.isfinite(n2)):
            reasons.append(f"{r['scale']} {r['statistic']}: group sizes not printed")
            continue
        sign = -1.0 if r["favours"] == "treatment" else 1.0
        label = f"{trial['trial_id']} {r['scale']}"
        stat = r["statistic"]
        if stat == "t":
            t = sign * abs(r["value"])
            notes.append(f"g from t = {r['value']:g}")
        elif stat == "F":
            t = effects.t_from_f([r["value"]], [sign], labels=[label])[0]
            notes.append(f"t = ±√F from F = {r['value']:g}")
        elif stat == "p":
            t = effects.t_from_p([r["value"]], [n1], [n2], [sign], labels=[label])[0]
            notes.append(f"t from exact two-sided p = {r['value']:g} with df = n1 + n2 - 2")
        elif stat in ("d", "g"):
            d = sign * abs(r["value"])
            if stat == "g":
                d = d / effects.hedges_j(n1 + n2 - 2)
            t = d / np.sqrt(1 / n1 + 1 / n2)
            notes.append(f"printed {stat} = {r['value']:g} taken as a standardised mean difference")
        elif stat == "md" and np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
            se = (r["ci_high"] - r["ci_low"]) / (2 * 1.959963984540054)
            t = sign * abs(r["value"]) / se
            notes.append("t = MD / SE, SE from the 95% CI of the MD")
        else:
            reasons.append(f"{r['scale']} {stat}: not convertible without a CI")
            continue
        yi, vi = effects.smd_from_t([t], [n1], [n2], labels=[label])
        row = _row(trial, r, f"{r['treatment_arm']} vs {r['control_arm']}", trial["intervention_type"], stat,
                   True, r["locator"].startswith("secondary:"), n1, n2, yi[0], vi[0], "; ".join(notes),
                   r["source"], r["locator"])
        return [row], []
    return [], reasons


@functools.lru_cache(maxsize=8)
def _index(ev: Evidence):
    """The evidence split by trial and outcome, once per Evidence object."""
    outcomes = {key: frame for key, frame in ev.outcomes.groupby(["trial_id", "outcome"])}
    reported = {key: frame for key, frame in ev.reported_effects.groupby(["trial_id", "outcome"])}
    return outcomes, reported, ev.trials.set_index("trial_id", drop=False)


@functools.lru_cache(maxsize=16384)
def _trial_result(ev: Evidence, trial_id: str, outcome: str, ch: Choices):
    """(rows, reasons) for one trial and outcome; only the choices that act per trial matter."""
    outcomes, reported, trials = _index(ev)
    trial = trials.loc[trial_id]
    arm_rows = outcomes.get((trial_id, outcome), ev.outcomes.iloc[0:0])
    rep = reported.get((trial_id, outcome), ev.reported_effects.iloc[0:0])
    if arm_rows.empty and rep.empty:
        return "none", (), ("no numbers for this outcome in the reachable sources (abstracts, registries, "
                            "tables)",)
    out, why_arm = _arm_level(trial, arm_rows, ch)
    if out:
        return "arm-level", tuple(out), ()
    if not ch.include_derived:
        return "none", (), tuple(why_arm + ["derived effects excluded by choice"])
    out, why_der = _derived(trial, rep, ch)
    if out:
        return "derived", tuple(out), tuple(why_arm)
    return "none", (), tuple(dict.fromkeys(why_arm + why_der))


def _per_trial(ch: Choices) -> Choices:
    """The choices with the eligibility fields reset, so the per-trial cache is shared."""
    return replace(ch, include_cointervention=False, exclude_open_label=False, exclude_high_risk=False)


def effect_table(ev: Evidence, choices: Choices | None = None, **overrides) -> pd.DataFrame:
    """One row per comparison that can enter the analysis under ``choices``.

    Arm-level numbers are used first; between-group statistics only when a trial has no usable
    arm-level numbers (and ``include_derived``). Columns: see ``COLUMNS``; ``derived`` and
    ``secondary`` flag effects from test statistics and from review tables, ``conversions``
    lists every conversion made.
    """
    ch = replace(choices or Choices(), **overrides)
    per = _per_trial(ch)
    rows = []
    for trial_id in _eligible(ev, ch):
        rows.extend(_trial_result(ev, trial_id, ch.outcome, per)[1])
    table = pd.DataFrame([dict(r) for r in rows], columns=COLUMNS)
    _check_no_double_control(ev, table)
    return table.reset_index(drop=True)


@functools.lru_cache(maxsize=8)
def _control_sizes(ev: Evidence) -> dict:
    """Largest printed size of each arm, falling back to the trial's control size."""
    sizes = {}
    for (tid, arm), n in ev.outcomes.groupby(["trial_id", "arm"])["n"].max().items():
        if np.isfinite(n):
            sizes[(tid, arm)] = n
    return sizes


def _check_no_double_control(ev: Evidence, table: pd.DataFrame) -> None:
    """A control arm never contributes more participants than it has."""
    if table.empty:
        return
    ctrl = list(table["comparison"].str.split(" vs ").str[-1])
    known = _control_sizes(ev)
    trials = _index(ev)[2]
    real = {}
    for tid, arm, n in zip(table["trial_id"], ctrl, table["n_control"]):
        if (tid, arm) in known:
            real[(tid, arm)] = known[(tid, arm)]
        else:
            t = trials.loc[tid]
            fallback = [x for x in (t["n_anal_ctl"], t["n_rand_ctl"]) if np.isfinite(x)]
            real[(tid, arm)] = fallback[0] if fallback else n
    effects.check_shared_controls(table["trial_id"], ctrl, table["n_control"], real)


def coverage(ev: Evidence, choices: Choices | None = None) -> pd.DataFrame:
    """For each trial and outcome: ``arm-level``, ``derived``, ``none`` or ``excluded``, and why.

    For a derived effect, ``reason`` says why the arm-level numbers could not be used.
    """
    ch = choices or Choices()
    rows = []
    for _, trial in ev.trials.iterrows():
        for outcome in ("depression", "anxiety"):
            if trial["eligible"] != "yes":
                status, reason = "excluded", trial["exclusion_reason"]
            else:
                status, _, why = _trial_result(ev, trial["trial_id"], outcome,
                                               _per_trial(replace(ch, outcome=outcome)))
                reason = "; ".join(why)
            rows.append({"trial_id": trial["trial_id"], "study": study_label(trial), "outcome": outcome,
                         "status": status, "reason": reason})
    return pd.DataFrame(rows)



def screening_counts(ev: Evidence, choices: Choices | None = None) -> pd.DataFrame:
    """PRISMA-style counts: candidates, exclusions by reason, eligible trials, and for each
    outcome how many eligible trials have arm-level, derived or no usable numbers."""
    cov = coverage(ev, choices)
    t = ev.trials
    rows = [("candidate trials (one row per trial)", len(t))]
    for code, n in t.loc[t["eligible"] == "no", "exclusion_code"].value_counts().sort_index().items():
        rows.append((f"excluded: {code.replace('_', ' ')}", int(n)))
    rows.append(("eligible trials", int((t["eligible"] == "yes").sum())))
    for outcome in ("depression", "anxiety"):
        c = cov[(cov["outcome"] == outcome) & (cov["status"] != "excluded")]
        for status in ("arm-level", "derived", "none"):
            rows.append((f"{outcome}: {status}", int((c["status"] == status).sum())))
    return pd.DataFrame(rows, columns=["stage", "trials"])
