"""From the evidence files to one effect size per trial comparison, under stated choices.

For each eligible trial and outcome the routes of :mod:`gutmeta.routes` are tried in a fixed
order, from the most to the least informative, and the first that works gives the trial's
effect:

1. ``means+SD->g``: arm-level means with a dispersion (``outcomes.csv``);
2. a between-group statistic (``reported_effects.csv``): t, F, exact p, d/g, MD with CI;
3. ``responders->OR->SMD``: responder counts per arm (``responders.csv``);
4. a bound: "p < x" or a printed range of effect sizes;
5. a result printed without its direction (``no direction->g=0``, or the authors' words).

Missing inputs are supplied by *steps* (a group size from the trial row or from a total, an
SD from other trials on the same instrument). Every route and step is switched by a field of
:class:`Choices`; :func:`effect_table` records per row the route, the steps, the numbers that
entered the route (``inputs``, so a test can recompute ``yi`` and ``vi``), and every
conversion, so a reader can follow each ``yi`` back to its source. :func:`coverage` says, per
trial and outcome, which route was used or why none applies.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import effects, routes
from .evidence import Evidence

ARM_ROUTE = "means+SD->g"
STAT_ROUTES = {"t": "t->g", "F": "F->t->g", "p": "exact p->t->g", "d": "d->g", "g": "d->g",
               "md": "MD+CI->t->g"}


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
    include_derived : use effects derived from printed between-group statistics (t, F, exact p,
        d, MD with CI).
    use_responders : use responder counts (``responders->OR->SMD``).
    use_bounds : use bounds ("p < 0.05", a range of effect sizes) at their conservative end.
    undirected : a result printed without its direction: "exclude" the trial, take the sign
        from the authors' "words" where they give one (else exclude), or count it as "zero"
        (g = 0 with the variance its group sizes imply).
    total_split : group sizes from a printed total: "none"; only where the source "stated"
        equal allocation; or "assumed" (also an equal split where allocation is not stated).
    impute_sd : impute a missing SD from other trials on the same instrument (Furukawa 2006).
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
    use_responders: bool = True
    use_bounds: bool = True
    undirected: str = "zero"
    total_split: str = "assumed"
    impute_sd: bool = True
    include_secondary: bool = False
    include_cointervention: bool = False
    exclude_open_label: bool = False
    exclude_high_risk: bool = False
    multi_arm: str = "split"
    n_fallback: bool = True

    def __post_init__(self):
        allowed = {"outcome": ("depression", "anxiety"), "scale_order": ("clinician_first", "self_first"),
                   "prefer": ("post", "change"), "unlabelled_as": ("SD", "SE", "exclude"),
                   "multi_arm": ("split", "combine"), "undirected": ("exclude", "words", "zero"),
                   "total_split": ("none", "stated", "assumed")}
        for name, options in allowed.items():
            if getattr(self, name) not in options:
                raise ValueError(f"Choices.{name} must be one of {options} (got {getattr(self, name)!r})")


COLUMNS = ["trial_id", "study", "comparison", "intervention_type", "outcome", "scale", "rater", "week",
           "basis", "route", "steps", "derived", "secondary", "n_treatment", "n_control", "yi", "vi",
           "inputs", "conversions", "source", "locator"]


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


def _secondary(frame: pd.DataFrame) -> pd.Series:
    return frame["locator"].str.startswith("secondary:")


# --------------------------------------------------------------------------- group sizes

class _Trace:
    """Steps and conversion notes collected while one effect is built."""

    def __init__(self):
        self.steps: list[str] = []
        self.notes: list[str] = []

    def step(self, label, note):
        if label not in self.steps:
            self.steps.append(label)
        if note not in self.notes:
            self.notes.append(note)


def _total_split(trial, ch: Choices, tr: _Trace):
    """Both group sizes from the trial's printed total, or None (the ``total split`` steps)."""
    if ch.total_split == "none":
        return None
    stated = bool(str(trial["allocation_quote"]).strip())
    if ch.total_split == "assumed" and np.isfinite(trial["n_total_anal"]):
        n1, n2 = routes.split_total(trial["n_total_anal"])
        tr.step("total split (assumed)", f"group sizes {n1}/{n2}: equal split of the "
                f"{int(trial['n_total_anal'])} analysed (allocation of the analysed not printed; assumed)")
        return n1, n2
    if np.isfinite(trial["n_total_rand"]) and (stated or ch.total_split == "assumed"):
        n1, n2 = routes.split_total(trial["n_total_rand"])
        if stated:
            tr.step("total split (stated)", f"group sizes {n1}/{n2}: the {int(trial['n_total_rand'])} "
                    f"randomised split equally as stated ('{trial['allocation_quote']}')")
        else:
            tr.step("total split (assumed)", f"group sizes {n1}/{n2}: equal split of the "
                    f"{int(trial['n_total_rand'])} randomised (allocation not printed; assumed)")
        return n1, n2
    return None


def _trial_n(trial, role: str, ch: Choices, tr: _Trace, what: str):
    """Size of one arm from the trial row: analysed, else randomised, else a split total."""
    if not ch.n_fallback:
        return np.nan
    suffix = "int" if role == "treatment" else "ctl"
    secondary_sizes = trial["n_arm_secondary"] == "yes" and not ch.include_secondary
    for col in (f"n_anal_{suffix}", f"n_rand_{suffix}"):
        if np.isfinite(trial[col]) and not secondary_sizes:
            tr.step("n from trial", f"n of {what} from trials.csv {col}")
            return trial[col]
    split = _total_split(trial, ch, tr)
    if split is None:
        return np.nan
    return split[0] if role == "treatment" else split[1]


def _pair_n(trial, n1, n2, ch: Choices, tr: _Trace):
    """Both group sizes of a between-group statistic (printed, else from the trial row)."""
    if np.isfinite(n1) and np.isfinite(n2):
        return n1, n2
    if np.isfinite(n1) or np.isfinite(n2) or not ch.n_fallback:
        # one size printed: the other from the trial row only when it names that arm
        pass
    if not np.isfinite(n1):
        n1 = _trial_n(trial, "treatment", ch, tr, "the treatment group")
    if not np.isfinite(n2):
        n2 = _trial_n(trial, "control", ch, tr, "the control group")
    return n1, n2


# --------------------------------------------------------------------------- route 1: arm level

def _donor_sd(ev: Evidence, row, trial, ch: Choices, tr: _Trace):
    """Pooled SD of other trials' arms on the same instrument (the ``SD imputed`` step)."""
    out = ev.outcomes
    same = (out["scale"] == row["scale"]) & (out["trial_id"] != row["trial_id"]) & (out["spread_kind"] == "SD") \
        & out["n"].notna()
    same &= out["timepoint"].eq("change") if row["timepoint"] == "change" else out["timepoint"].isin(["baseline", "post"])
    if not ch.include_secondary:
        same &= ~_secondary(out)
    donors = out[same]
    if donors.empty:
        return None
    sd = routes.pooled_sd(donors["spread"], donors["n"])
    names = "; ".join(f"{t} {tp} {a} (SD {s:g}, n {int(n)})" for t, tp, a, s, n in
                      zip(donors["trial_id"], donors["timepoint"], donors["arm"], donors["spread"], donors["n"]))
    tr.step("SD imputed", f"arm '{row['arm']}': SD {sd:.3f} imputed from {row['scale']} donors: {names}")
    return sd


def _arm_summary(ev, row, trial, ch, tr):
    """(n, mean, sd) of one arm from its printed values, or a reason string."""
    n = row["n"]
    if not np.isfinite(n):
        n = _trial_n(trial, row["arm_role"], ch, tr, f"arm '{row['arm']}'")
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
            tr.notes.append(f"arm '{row['arm']}': mean and SD from median/IQR (Wan 2014)")
            return n, m[0], s[0]
        if kind == "range":
            m, s = effects.mean_sd_from_median_range(row["center"], row["spread_low"], row["spread_high"], n,
                                                     labels=[label])
            tr.notes.append(f"arm '{row['arm']}': mean and SD from median/range (Wan 2014)")
            return n, m[0], s[0]
        return f"arm '{row['arm']}': a median without IQR or range"
    mean = row["center"]
    if kind == "SD" or (kind == "unlabelled" and ch.unlabelled_as == "SD"):
        if kind == "unlabelled":
            tr.notes.append(f"arm '{row['arm']}': unlabelled ± read as SD")
        return n, mean, row["spread"]
    if kind == "SE" or (kind == "unlabelled" and ch.unlabelled_as == "SE"):
        tr.notes.append(f"arm '{row['arm']}': SD = SE × √n" + (" (unlabelled ± read as SE)" if kind == "unlabelled" else ""))
        return n, mean, effects.sd_from_se(row["spread"], n, labels=[label])[0]
    if kind == "CI95":
        tr.notes.append(f"arm '{row['arm']}': SD from the 95% CI of the mean (t quantile)")
        return n, mean, effects.sd_from_ci(row["spread_low"], row["spread_high"], n, labels=[label])[0]
    if kind == "unlabelled":
        return f"arm '{row['arm']}': unlabelled ± excluded by choice"
    if ch.impute_sd:
        sd = _donor_sd(ev, row, trial, ch, tr)
        if sd is not None:
            return n, mean, sd
        return f"arm '{row['arm']}': no dispersion printed and no donor SD on {row['scale']}"
    return f"arm '{row['arm']}': no dispersion printed (SD imputation off)"


def _arm_level(ev, trial, rows: pd.DataFrame, ch: Choices):
    """Effect rows from arm-level numbers for one trial, or a list of reasons why none."""
    reasons = []
    if not ch.include_secondary:
        rows = rows[~_secondary(rows)]
    if rows.empty:
        return [], []
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
            out, why = _comparisons(ev, trial, sel, ch)
            if out:
                return out, []
            reasons.append(f"{scale} {basis}: {why}")
        if not tried:
            reasons.append(f"{scale}: only baseline values printed")
    return [], reasons


def _comparisons(ev, trial, sel: pd.DataFrame, ch: Choices):
    treat = sel[sel["arm_role"] == "treatment"]
    ctrl = sel[sel["arm_role"] == "control"]
    if treat.empty or ctrl.empty:
        return [], "values for only one arm printed"
    tr = _Trace()
    c_row = ctrl.iloc[0]
    c = _arm_summary(ev, c_row, trial, ch, tr)
    if isinstance(c, str):
        return [], c
    t_sums = []
    for _, r in treat.iterrows():
        s = _arm_summary(ev, r, trial, ch, tr)
        if isinstance(s, str):
            return [], s
        t_sums.append((r, s))
    pairs = []
    if len(t_sums) > 1 and ch.multi_arm == "combine":
        n, m, s = t_sums[0][1]
        for _, (n2, m2, s2) in t_sums[1:]:
            n, m, s = effects.combine_arms(n, m, s, n2, m2, s2)
        arms = " + ".join(r["arm"] for r, _ in t_sums)
        tr.notes.append(f"treatment arms {arms} combined (Cochrane 23.3.4)")
        pairs.append((arms, "multiple", (n, m, s), c))
    else:
        parts = effects.split_control(c[0], len(t_sums)) if len(t_sums) > 1 else [c[0]]
        if len(t_sums) > 1:
            tr.notes.append(f"control arm '{c_row['arm']}' (n = {int(c[0])}) split into {parts}")
        for (r, s), nc in zip(t_sums, parts):
            pairs.append((r["arm"], r["arm_type"], s, (nc, c[1], c[2])))
    out = []
    for arm, arm_type, (n1, m1, s1), (n2, m2, s2) in pairs:
        inputs = dict(m1=float(m1), sd1=float(s1), n1=float(n1), m2=float(m2), sd2=float(s2), n2=float(n2))
        yi, vi = routes.means_sd(**inputs)
        if c_row["direction"] == "higher_better":
            yi = -yi
            inputs["flip"] = True
        out.append(_row(trial, sel.iloc[0], f"{arm} vs {c_row['arm']}", arm_type, sel.iloc[0]["timepoint"],
                        ARM_ROUTE, tr, _secondary(sel).any(), n1, n2, yi, vi, inputs,
                        "; ".join(sel["source"].unique()), " || ".join(sel["locator"].unique())))
    return out, ""


def _row(trial, ref, comparison, arm_type, basis, route, tr, secondary, n1, n2, yi, vi, inputs, source, locator):
    itype = arm_type if arm_type in ("probiotic", "prebiotic", "synbiotic") else trial["intervention_type"]
    return {"trial_id": trial["trial_id"], "study": study_label(trial), "comparison": comparison,
            "intervention_type": itype, "outcome": ref["outcome"], "scale": ref["scale"],
            "rater": ref.get("rater", ""), "week": ref["week"], "basis": basis, "route": route,
            "steps": "; ".join(tr.steps), "derived": route != ARM_ROUTE, "secondary": bool(secondary),
            "n_treatment": float(n1), "n_control": float(n2), "yi": float(yi), "vi": float(vi),
            "inputs": json.dumps(inputs, sort_keys=True), "conversions": "; ".join(tr.notes),
            "source": source, "locator": locator}


# --------------------------------------------------------------------------- routes 2, 4, 5: statistics

def _sign(r, ch: Choices):
    """-1 when the statistic favours treatment, +1 when control, None when not known."""
    if r["favours"] == "treatment":
        return -1.0
    if r["favours"] == "control":
        return 1.0
    return None


def _statistic_effect(trial, r, ch: Choices, kind: str):
    """One effect row from a reported statistic under route family ``kind``, or a reason."""
    tr = _Trace()
    n1, n2 = _pair_n(trial, r["n_treatment"], r["n_control"], ch, tr)
    stat = r["statistic"]
    if not (np.isfinite(n1) and np.isfinite(n2)):
        return None, f"{r['scale']} {stat}: group sizes not printed"
    n1, n2 = float(n1), float(n2)
    sign = _sign(r, ch)
    value = r["value"]
    if kind == "undirected":
        if ch.undirected == "words" and r["words_favour"] in ("treatment", "control") and stat == "p":
            sign = -1.0 if r["words_favour"] == "treatment" else 1.0
            tr.notes.append(f"direction from the authors' words ('{r['words_quote']}')")
            route, inputs = STAT_ROUTES["p"], dict(p=value, n1=n1, n2=n2, sign=sign)
        elif ch.undirected == "zero":
            route, inputs = "no direction->g=0", dict(n1=n1, n2=n2)
            tr.notes.append(f"{stat} = {r['value']:g} printed without direction: g = 0" if stat == "p"
                            else "printed as not significant without direction: g = 0")
        else:
            return None, f"{r['scale']} {stat}: direction not reported (excluded by choice)"
    elif sign is None:
        return None, f"{r['scale']} {stat}: direction of the difference not reported"
    elif stat == "p_bound":
        route, inputs = "p bound->t->g", dict(bound=value, n1=n1, n2=n2, sign=sign)
        tr.notes.append(f"'p < {value:g}' used at its bound (conservative)")
    elif stat == "d_range":
        route, inputs = "d range->g", dict(low=value, high=r["value_high"], n1=n1, n2=n2, sign=sign)
        tr.notes.append(f"printed range {value:g} to {r['value_high']:g}: the end nearest 0")
    elif stat == "md":
        if not (np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])):
            return None, f"{r['scale']} md: not convertible without a CI"
        route = STAT_ROUTES["md"]
        inputs = dict(md=value, low=r["ci_low"], high=r["ci_high"], n1=n1, n2=n2, sign=sign)
        tr.notes.append("t = MD / SE, SE from the 95% CI of the MD")
    elif stat in ("d", "g"):
        route, inputs = STAT_ROUTES[stat], dict(d=value, n1=n1, n2=n2, sign=sign, kind=stat)
        tr.notes.append(f"printed {stat} = {value:g} taken as a standardised mean difference")
    elif stat == "t":
        route, inputs = STAT_ROUTES["t"], dict(t=sign * abs(value), n1=n1, n2=n2)
        tr.notes.append(f"g from t = {value:g}")
    elif stat == "F":
        route, inputs = STAT_ROUTES["F"], dict(f=value, n1=n1, n2=n2, sign=sign)
        tr.notes.append(f"t = ±√F from F = {value:g}")
    else:  # exact p
        route, inputs = STAT_ROUTES["p"], dict(p=value, n1=n1, n2=n2, sign=sign)
        tr.notes.append(f"t from exact two-sided p = {value:g} with df = n1 + n2 - 2")
    yi, vi = routes.compute(route, **inputs)
    row = _row(trial, r, f"{r['treatment_arm']} vs {r['control_arm']}", trial["intervention_type"], stat, route,
               tr, str(r["locator"]).startswith("secondary:"), n1, n2, yi, vi, inputs, r["source"], r["locator"])
    return row, ""


EXACT = ("t", "F", "d", "g", "md", "p")


def _statistics(trial, rows: pd.DataFrame, ch: Choices, kind: str):
    """Effect rows from between-group statistics of one route family, or reasons why none.

    ``kind``: "exact" (t, F, d, g, MD, exact p with a direction), "bound" (p < x, d range) or
    "undirected" (an exact p or "not significant" printed without a direction).
    """
    reasons = []
    if not ch.include_secondary:
        sec = rows[_secondary(rows)]
        reasons += [f"{r['scale']} {r['statistic']}: only in a secondary source (excluded by choice)"
                    for _, r in sec.iterrows()]
        rows = rows[~_secondary(rows)]
    usable = rows[rows["use"] == "yes"]
    if kind == "exact":
        for _, r in rows[rows["use"] == "no"].iterrows():
            reasons.append(f"{r['scale']} {r['statistic']}: {r['use_reason']}")
        usable = usable[usable["statistic"].isin(EXACT) & usable["favours"].isin(["treatment", "control"])]
    elif kind == "bound":
        usable = usable[usable["statistic"].isin(["p_bound", "d_range"])]
    else:
        usable = usable[(usable["statistic"].isin(["p", "ns"])) & (usable["favours"] == "unclear")]
    if usable.empty:
        return [], reasons
    usable = usable.assign(last=-usable["week"].fillna(-1), rank=usable["rater"].map(lambda x: _scale_rank(x, ch)),
                           srank=usable["statistic"].map({"t": 0, "F": 1, "d": 2, "g": 2, "md": 3, "p": 4,
                                                          "p_bound": 5, "d_range": 6, "ns": 7}))
    # the end-of-treatment value first, then the preferred rater, then the most informative statistic
    for _, r in usable.sort_values(["last", "rank", "srank"], kind="stable").iterrows():
        row, why = _statistic_effect(trial, r, ch, kind)
        if row is not None:
            return [row], reasons
        reasons.append(why)
    return [], reasons


# --------------------------------------------------------------------------- route 3: responders

def _responders(trial, rows: pd.DataFrame, ch: Choices):
    """Effect rows from responder counts (``responders->OR->SMD``), or reasons why none."""
    reasons = []
    if not ch.include_secondary:
        for (scale, arm) in rows.loc[_secondary(rows), ["scale", "arm"]].itertuples(index=False):
            reasons.append(f"{scale} responders: the count of arm '{arm}' is only in a secondary source "
                           "(excluded by choice)")
        rows = rows[~_secondary(rows)]
    if rows.empty:
        return [], reasons
    rows = rows.assign(rank=rows["rater"].map(lambda x: _scale_rank(x, ch)))
    for (scale, definition), sel in rows.sort_values("rank", kind="stable").groupby(["scale", "definition"],
                                                                                     sort=False):
        treat = sel[sel["arm_role"] == "treatment"]
        ctrl = sel[sel["arm_role"] == "control"]
        if treat.empty or ctrl.empty:
            if not reasons:
                reasons.append(f"{scale} responders: counts for only one arm printed")
            continue
        tr = _Trace()
        c = ctrl.iloc[0]
        nc = c["n"] if np.isfinite(c["n"]) else _trial_n(trial, "control", ch, tr, f"arm '{c['arm']}'")
        t_rows = list(treat.itertuples(index=False))
        sizes = []
        for t in t_rows:
            sizes.append(t.n if np.isfinite(t.n) else _trial_n(trial, "treatment", ch, tr, f"arm '{t.arm}'"))
        if not np.isfinite(nc) or not all(np.isfinite(sizes)):
            reasons.append(f"{scale} responders: group sizes not printed")
            continue
        parts = len(t_rows)
        if parts > 1:
            tr.notes.append(f"control arm '{c['arm']}' split into {parts} (events and n divided)")
        out = []
        for t, n1 in zip(t_rows, sizes):
            inputs = dict(e1=float(t.events), n1=float(n1), e2=float(c["events"]) / parts, n2=float(nc) / parts)
            tr.notes.append(f"responders ({definition}): {t.events:g}/{n1:g} vs {c['events']:g}/{nc:g}")
            yi, vi = routes.responders(**inputs)
            out.append(_row(trial, sel.iloc[0], f"{t.arm} vs {c['arm']}", t.arm_type, "responders",
                            "responders->OR->SMD", tr, _secondary(sel).any(), n1, inputs["n2"], yi, vi, inputs,
                            "; ".join(sel["source"].unique()), " || ".join(sel["locator"].unique())))
        return out, []
    return [], reasons


# --------------------------------------------------------------------------- dispatcher

@functools.lru_cache(maxsize=8)
def _index(ev: Evidence):
    """The evidence split by trial and outcome, once per Evidence object.

    Text columns become plain Python objects here: the many small filters of the routes run
    about 1.6 times faster on them than on pandas' string dtype (the multiverse calls them
    hundreds of times).
    """
    def split(frame):
        frame = frame.astype({c: object for c in frame.columns if frame[c].dtype != float})
        return {key: part for key, part in frame.groupby(["trial_id", "outcome"])}

    trials = ev.trials.astype({c: object for c in ev.trials.columns if ev.trials[c].dtype != float})
    return split(ev.outcomes), split(ev.reported_effects), split(ev.responders), trials.set_index("trial_id", drop=False)


@functools.lru_cache(maxsize=16384)
def _trial_result(ev: Evidence, trial_id: str, outcome: str, ch: Choices):
    """(status, rows, reasons) for one trial and outcome; only per-trial choices matter."""
    outcomes, reported, resp, trials = _index(ev)
    trial = trials.loc[trial_id]
    arm_rows = outcomes.get((trial_id, outcome), ev.outcomes.iloc[0:0])
    rep = reported.get((trial_id, outcome), ev.reported_effects.iloc[0:0])
    res = resp.get((trial_id, outcome), ev.responders.iloc[0:0])
    if arm_rows.empty and rep.empty and res.empty:
        return "none", (), ("no numbers for this outcome in the reachable sources (abstracts, registries, "
                            "tables)",)
    reasons: list[str] = []
    attempts = [("arm-level", lambda: _arm_level(ev, trial, arm_rows, ch), True),
                ("derived", lambda: _statistics(trial, rep, ch, "exact"), ch.include_derived),
                ("derived", lambda: _responders(trial, res, ch), ch.use_responders),
                ("derived", lambda: _statistics(trial, rep, ch, "bound"), ch.use_bounds),
                ("derived", lambda: _statistics(trial, rep, ch, "undirected"), ch.undirected != "exclude"),
                ]
    off = {1: "between-group statistics", 2: "responder counts", 3: "bounds", 4: "results without direction"}
    for i, (status, attempt, on) in enumerate(attempts):
        if not on:
            if i == 1 and not rep[rep["statistic"].isin(EXACT)].empty:
                reasons.append(f"{off[i]} excluded by choice")
            elif i == 2 and not res.empty:
                reasons.append(f"{off[i]} excluded by choice")
            elif i == 3 and not rep[rep["statistic"].isin(["p_bound", "d_range"])].empty:
                reasons.append(f"{off[i]} excluded by choice")
            elif i == 4 and not rep[rep["favours"] == "unclear"].empty:
                reasons.append("direction not reported (excluded by choice)")
            continue
        out, why = attempt()
        if out:
            return status, tuple(out), tuple(dict.fromkeys(reasons))
        reasons += why
    if not reasons:
        reasons = ["no usable numbers"]
    return "none", (), tuple(dict.fromkeys(reasons))


def _per_trial(ch: Choices) -> Choices:
    """The choices with the eligibility fields reset, so the per-trial cache is shared."""
    return replace(ch, include_cointervention=False, exclude_open_label=False, exclude_high_risk=False)


def effect_table(ev: Evidence, choices: Choices | None = None, **overrides) -> pd.DataFrame:
    """One row per comparison that can enter the analysis under ``choices``.

    The routes are tried in the order of the module docstring; the first that gives an effect
    is used. Columns: see ``COLUMNS``. ``route`` names the route, ``steps`` the steps that
    supplied inputs, ``inputs`` (JSON) the numbers the route was run on, ``derived`` and
    ``secondary`` flag effects not from arm-level numbers and numbers from review tables,
    ``conversions`` lists every conversion and assumption.
    """
    ch = replace(choices or Choices(), **overrides)
    per = _per_trial(ch)
    rows = []
    for trial_id in _eligible(ev, ch):
        rows.extend(_trial_result(ev, trial_id, ch.outcome, per)[1])
    table = pd.DataFrame([dict(r) for r in rows], columns=COLUMNS)
    _check_no_double_control(ev, table)
    return table.reset_index(drop=True)


def recompute(row) -> tuple:
    """``(yi, vi)`` of an effect-table row, recomputed from its ``inputs`` through its ``route``."""
    inputs = json.loads(row["inputs"])
    flip = inputs.pop("flip", False)
    yi, vi = routes.compute(row["route"], **inputs)
    return (-yi if flip else yi), vi


@functools.lru_cache(maxsize=8)
def _control_sizes(ev: Evidence) -> dict:
    """Largest printed size of each arm."""
    sizes = {}
    for frame in (ev.outcomes, ev.responders):
        for (tid, arm), n in frame.groupby(["trial_id", "arm"])["n"].max().items():
            if np.isfinite(n):
                sizes[(tid, arm)] = max(n, sizes.get((tid, arm), 0))
    return sizes


def _check_no_double_control(ev: Evidence, table: pd.DataFrame) -> None:
    """A control arm never contributes more participants than it has."""
    if table.empty:
        return
    ctrl = list(table["comparison"].str.split(" vs ").str[-1])
    known = _control_sizes(ev)
    trials = _index(ev)[3]
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
    """For each trial and outcome: the status, the route used, the steps, and why not otherwise.

    ``status`` is ``arm-level`` (means and SDs), ``derived`` (any other route), ``none`` or
    ``excluded``; ``route`` names the route (empty when none); ``reason`` says why no route or
    why the more informative routes could not be used.
    """
    ch = choices or Choices()
    rows = []
    for _, trial in ev.trials.iterrows():
        for outcome in ("depression", "anxiety"):
            route = steps = ""
            if trial["eligible"] != "yes":
                status, reason = "excluded", trial["exclusion_reason"]
            else:
                status, out, why = _trial_result(ev, trial["trial_id"], outcome,
                                                 _per_trial(replace(ch, outcome=outcome)))
                reason = "; ".join(why)
                if out:
                    route = "; ".join(dict.fromkeys(r["route"] for r in out))
                    steps = "; ".join(dict.fromkeys(s for r in out for s in r["steps"].split("; ") if s))
            rows.append({"trial_id": trial["trial_id"], "study": study_label(trial), "outcome": outcome,
                         "status": status, "route": route, "steps": steps, "reason": reason})
    return pd.DataFrame(rows)


def screening_counts(ev: Evidence, choices: Choices | None = None) -> pd.DataFrame:
    """PRISMA-style counts: candidates, exclusions by reason, eligible trials, and for each
    outcome how many eligible trials each route reaches and how many have no usable numbers."""
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
        for route, n in c.loc[c["route"] != "", "route"].value_counts().sort_index().items():
            rows.append((f"{outcome}: route {route}", int(n)))
    return pd.DataFrame(rows, columns=["stage", "trials"])
