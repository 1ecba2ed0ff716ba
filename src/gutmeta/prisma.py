"""PRISMA 2020 flow diagram from the evidence files.

The counts come from ``data/trials.csv`` (one row per trial, its main publication and the
secondary reports linked to it, eligibility and the exclusion reason) and from the coverage
table of :func:`gutmeta.coverage` (what could be used per trial and outcome, and by which
route). :func:`prisma_counts` collects them, :meth:`PrismaCounts.check` verifies that the boxes
add up, and :func:`prisma_figure` draws the diagram (Page et al. 2021, BMJ 372:n71, the flow
diagram for new reviews, with trials as the unit and reports linked to trials).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evidence import Evidence


def split_reports(text) -> list[str]:
    """The secondary reports listed in one ``secondary_reports`` cell.

    Reports are separated by ``;`` followed by a space, at the top level: semicolons inside
    parentheses or brackets (a report's own details: journal, DOI, PMID) and those inside a
    citation such as ``2024;14:305`` do not separate reports. An empty cell gives an empty
    list.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    text = str(text).strip()
    if not text:
        return []
    parts, depth, cur = [], 0, []
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        if ch == ";" and depth == 0 and (i + 1 == len(text) or text[i + 1].isspace()):
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


@dataclass(frozen=True)
class OutcomeCounts:
    """Eligible trials for one outcome: analysable (by route) or without usable numbers.

    routes : tuple of (route, n) pairs, the analysable trials by the route their effect took
        (ordered by status: arm-level first, then derived, then others; then by n).
    statuses : tuple of (status, n) pairs for the analysable trials.
    breakdown : tuple of (status, route, n) triples, in the order of ``routes``.
    """

    outcome: str
    eligible: int
    analysable: int
    routes: tuple
    none: int
    statuses: tuple = ()
    breakdown: tuple = ()


@dataclass(frozen=True)
class PrismaCounts:
    """The numbers of the flow diagram.

    reports_main : main publications (one per candidate trial).
    reports_secondary : further reports linked to the candidate trials (``secondary_reports``).
    trials : candidate trials (rows of trials.csv), each assessed for eligibility.
    excluded : tuple of (exclusion code, n) pairs for the ineligible trials.
    eligible : eligible trials.
    reports_eligible : reports (main and secondary) of the eligible trials.
    outcomes : one :class:`OutcomeCounts` per outcome.
    """

    reports_main: int
    reports_secondary: int
    trials: int
    excluded: tuple
    eligible: int
    reports_eligible: int
    outcomes: tuple

    @property
    def reports(self) -> int:
        return self.reports_main + self.reports_secondary

    @property
    def n_excluded(self) -> int:
        return sum(n for _, n in self.excluded)

    def outcome(self, name: str) -> OutcomeCounts:
        for o in self.outcomes:
            if o.outcome == name:
                return o
        raise KeyError(f"no counts for outcome {name!r}; have {[o.outcome for o in self.outcomes]}")

    def check(self) -> "PrismaCounts":
        """Raise ``ValueError`` unless the boxes add up; return self.

        eligible + excluded = candidate trials; main reports = candidate trials; reports of
        eligible trials <= all reports; per outcome, analysable + no usable numbers = eligible
        and the routes sum to the analysable trials.
        """
        problems = []
        if self.eligible + self.n_excluded != self.trials:
            problems.append(f"eligible ({self.eligible}) + excluded ({self.n_excluded}) != candidate "
                            f"trials ({self.trials})")
        if self.reports_main != self.trials:
            problems.append(f"main reports ({self.reports_main}) != candidate trials ({self.trials})")
        if not self.eligible <= self.reports_eligible <= self.reports:
            problems.append(f"reports of eligible trials ({self.reports_eligible}) not between "
                            f"{self.eligible} and {self.reports}")
        for o in self.outcomes:
            if o.eligible != self.eligible:
                problems.append(f"{o.outcome}: {o.eligible} trials in the coverage table but "
                                f"{self.eligible} eligible")
            if o.analysable + o.none != o.eligible:
                problems.append(f"{o.outcome}: analysable ({o.analysable}) + none ({o.none}) != "
                                f"eligible ({o.eligible})")
            if sum(n for _, n in o.routes) != o.analysable:
                problems.append(f"{o.outcome}: routes {o.routes} do not sum to {o.analysable}")
            if o.statuses and sum(n for _, n in o.statuses) != o.analysable:
                problems.append(f"{o.outcome}: statuses {o.statuses} do not sum to {o.analysable}")
        if any(n < 0 for _, n in self.excluded):
            problems.append("negative exclusion count")
        if problems:
            raise ValueError("PRISMA counts do not add up: " + "; ".join(problems))
        return self

    def to_frame(self) -> pd.DataFrame:
        """The counts as a (stage, n) table, in the order of the diagram."""
        rows = [("reports (main publications)", self.reports_main),
                ("reports (linked secondary reports)", self.reports_secondary),
                ("candidate trials", self.trials)]
        rows += [(f"excluded: {code}", n) for code, n in self.excluded]
        rows += [("eligible trials", self.eligible), ("reports of eligible trials", self.reports_eligible)]
        for o in self.outcomes:
            rows += [(f"{o.outcome}: analysable", o.analysable)]
            rows += [(f"{o.outcome}: {route}", n) for route, n in o.routes]
            rows += [(f"{o.outcome}: no usable numbers", o.none)]
        return pd.DataFrame(rows, columns=["stage", "n"])


def _status_order(status: str) -> int:
    return {"arm-level": 0, "derived": 1}.get(status, 2)


def prisma_counts(ev: Evidence, coverage_frame: pd.DataFrame, *, outcomes=None,
                  unusable=("none",)) -> PrismaCounts:
    """Collect the PRISMA 2020 counts.

    Parameters
    ----------
    ev : Evidence
        From :func:`gutmeta.load_evidence`.
    coverage_frame : DataFrame
        From :func:`gutmeta.coverage` (columns ``trial_id, outcome, status``; optional
        ``route``). Per-route counts come from ``route`` where present and not empty, else
        from ``status``.
    outcomes : sequence of str, optional
        Outcomes to count (default: those in ``coverage_frame``, in order of appearance).
    unusable : sequence of str
        Statuses that mean "no usable numbers" (default ``("none",)``); every other status of
        an eligible trial counts as analysable.

    Returns
    -------
    PrismaCounts
        Already checked with :meth:`PrismaCounts.check`.
    """
    t = ev.trials
    cov = coverage_frame
    for col in ("trial_id", "outcome", "status"):
        if col not in cov.columns:
            raise ValueError(f"prisma_counts: coverage_frame has no column {col!r}")
    bad = sorted(set(t["eligible"].dropna()) - {"yes", "no"})
    bad += ["(empty)"] if t["eligible"].isna().any() else []
    if bad:
        raise ValueError(f"prisma_counts: trials.csv field 'eligible' must be yes or no (got {bad})")
    n_sec = t["secondary_reports"].map(lambda x: len(split_reports(x)))
    elig = t["eligible"] == "yes"
    codes = t.loc[~elig, "exclusion_code"].fillna("not_stated").astype(str)
    excluded = tuple(sorted(((c, int(n)) for c, n in codes.value_counts().items()),
                            key=lambda cn: (-cn[1], cn[0])))
    eligible_ids = set(t.loc[elig, "trial_id"])
    if outcomes is None:
        outcomes = list(dict.fromkeys(cov["outcome"]))
    per = []
    for outcome in outcomes:
        c = cov[(cov["outcome"] == outcome) & cov["trial_id"].isin(eligible_ids)]
        dup = c["trial_id"][c["trial_id"].duplicated()].tolist()
        if dup:
            raise ValueError(f"prisma_counts: coverage_frame has several rows for {outcome} of {dup}")
        missing = sorted(eligible_ids - set(c["trial_id"]))
        if missing:
            raise ValueError(f"prisma_counts: coverage_frame has no {outcome} row for eligible "
                             f"trial(s) {missing}")
        wrong = c.loc[c["status"] == "excluded", "trial_id"].tolist()
        if wrong:
            raise ValueError(f"prisma_counts: trial(s) {wrong} are eligible in trials.csv but 'excluded' "
                             f"in coverage_frame ({outcome})")
        usable = c[~c["status"].isin(unusable)]
        route = usable["status"].astype(str)
        if "route" in usable.columns:
            r = usable["route"]
            has = r.notna() & (r.astype(str).str.strip() != "")
            route = r.astype(str).str.strip().where(has, route)
        rank = {}  # a route's place: the best-ranked status that uses it
        for st, r in zip(usable["status"].astype(str), route):
            rank[r] = min(rank.get(r, 9), _status_order(st))
        routes = tuple(sorted(((str(k), int(n)) for k, n in route.value_counts().items()),
                              key=lambda rn: (rank[rn[0]], -rn[1], rn[0])))
        pairs = pd.Series(list(zip(usable["status"].astype(str), route))).value_counts()
        order = {r: i for i, (r, _) in enumerate(routes)}
        breakdown = tuple(sorted(((st, r, int(n)) for (st, r), n in pairs.items()),
                                 key=lambda srn: (_status_order(srn[0]), order[srn[1]])))
        statuses = tuple(sorted(((str(k), int(n)) for k, n in usable["status"].value_counts().items()),
                                key=lambda sn: (_status_order(sn[0]), -sn[1], sn[0])))
        per.append(OutcomeCounts(outcome=outcome, eligible=len(c), analysable=len(usable), routes=routes,
                                 none=int(c["status"].isin(unusable).sum()), statuses=statuses,
                                 breakdown=breakdown))
    counts = PrismaCounts(reports_main=len(t), reports_secondary=int(n_sec.sum()), trials=len(t),
                          excluded=excluded, eligible=int(elig.sum()),
                          reports_eligible=int(elig.sum() + n_sec[elig].sum()), outcomes=tuple(per))
    return counts.check()


# --------------------------------------------------------------------------- the figure

_FONT = 9.5        # points
_LINE = _FONT * 1.45 / 72   # line height in inches
_PAD = 0.12        # inches inside a box, above and below the text
_GAP = 0.42        # inches between rows of boxes
_CHARS_PER_INCH = 12.5  # conservative for DejaVu Sans at 9.5 pt


def _wrap(lines, width_in: float) -> str:
    width = max(int(width_in * _CHARS_PER_INCH), 10)
    out = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        out += textwrap.wrap(line, width=width, subsequent_indent=" " * (indent + 2),
                             initial_indent="", drop_whitespace=False) or [""]
    return "\n".join(s.rstrip() for s in out)


def _box_height(text: str) -> float:
    return text.count("\n") * _LINE + _LINE + 2 * _PAD


def _route_text(route: str) -> str:
    return route.replace("->", " → ")


def prisma_figure(counts: PrismaCounts, *, width=9.0, title=None):
    """The PRISMA 2020 flow diagram of ``counts`` as a matplotlib Figure.

    Three stages as in Page et al. (2021, BMJ 372:n71): identification (reports and the trials
    they describe, with secondary reports linked to their trial), screening (trials assessed,
    with exclusions by reason in a side box) and included (eligible trials, then per outcome
    the trials analysable by route and those without usable numbers). Box heights follow
    their text, so more routes or reasons make the figure taller, never crowded. At the
    default ``width`` of 9 inches and 100 dpi the figure is 900 px wide.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    counts.check()
    margin, phase_w = 0.1, 0.32
    x0 = margin + phase_w + 0.15          # left edge of the main column
    right = width - margin
    main_w = (right - x0) * 0.50
    side_x = x0 + main_w + 0.45
    side_w = right - side_x
    n_out = max(len(counts.outcomes), 1)
    out_gap = 0.25
    out_w = (right - x0 - out_gap * (n_out - 1)) / n_out

    def fmt_n(n):
        return f"n = {n}"

    rep_txt = _wrap([f"Reports of candidate trials ({fmt_n(counts.reports)})",
                     f"  main publications: {counts.reports_main}",
                     f"  secondary reports: {counts.reports_secondary}"], main_w)
    link_txt = _wrap([f"Secondary reports linked to their trial, counted once "
                      f"({fmt_n(counts.reports_secondary)})"], side_w)
    trials_txt = _wrap([f"Trials assessed for eligibility ({fmt_n(counts.trials)})"], main_w)
    excl_lines = [f"Trials excluded ({fmt_n(counts.n_excluded)})"]
    excl_lines += [f"  {code.replace('_', '-')}: {n}" for code, n in counts.excluded]
    excl_txt = _wrap(excl_lines, side_w)
    elig_txt = _wrap([f"Eligible trials ({fmt_n(counts.eligible)})",
                      f"  reports of eligible trials: {counts.reports_eligible}"], main_w)
    out_txts = []
    for o in counts.outcomes:
        lines = [f"{o.outcome.capitalize()}: analysable ({fmt_n(o.analysable)})"]
        if o.statuses and o.breakdown:
            for status, n_status in o.statuses:
                lines.append(f"  {status}: {n_status}")
                sub = [(r, n) for st, r, n in o.breakdown if st == status]
                if not (len(sub) == 1 and sub[0][0] == status):
                    lines += [f"    {_route_text(r)}: {n}" for r, n in sub]
        else:
            lines += [f"  {_route_text(route)}: {n}" for route, n in o.routes]
        lines += [f"No usable numbers ({fmt_n(o.none)})"]
        out_txts.append(_wrap(lines, out_w))

    def label_len(name):  # length of a rotated bold phase label, in inches, plus padding
        return len(name) * _FONT * 0.56 / 72 + 0.15

    h_rep = max(_box_height(rep_txt), _box_height(link_txt), label_len("Identification"))
    h_tri = max(_box_height(trials_txt), _box_height(excl_txt), label_len("Screening"))
    h_eli = _box_height(elig_txt)
    h_out = max([_box_height(s) for s in out_txts] or [_box_height("x")])
    h_out = max(h_out, label_len("Included") - h_eli - _GAP)
    top_pad = 0.55 if title else 0.15
    height = top_pad + h_rep + _GAP + h_tri + _GAP + h_eli + _GAP + h_out + 0.15

    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    if title:
        ax.text(width / 2, height - 0.28, title, ha="center", va="center", fontsize=_FONT + 2,
                fontweight="bold", gid="title")

    def box(x, y_top, w, h, text, gid, face="white", align="left"):
        ax.add_patch(FancyBboxPatch((x, y_top - h), w, h, boxstyle="square,pad=0", facecolor=face,
                                    edgecolor="black", linewidth=1, gid=f"box:{gid}"))
        tx = x + 0.12 if align == "left" else x + w / 2
        ax.text(tx, y_top - h / 2, text, ha=align, va="center", fontsize=_FONT, linespacing=1.45,
                gid=f"text:{gid}", multialignment="left")
        return (x, y_top - h, w, h)

    def arrow(p, q):
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=12, linewidth=1,
                                     color="black", shrinkA=0, shrinkB=0))

    y = height - top_pad
    b_rep = box(x0, y, main_w, h_rep, rep_txt, "reports")
    b_link = box(side_x, y, side_w, h_rep, link_txt, "linked", face="#f2f2f2")
    arrow((x0 + main_w, y - h_rep / 2), (side_x, y - h_rep / 2))
    y1 = y - h_rep - _GAP
    b_tri = box(x0, y1, main_w, h_tri, trials_txt, "trials")
    b_exc = box(side_x, y1, side_w, h_tri, excl_txt, "excluded", face="#f2f2f2")
    arrow((x0 + main_w / 2, y - h_rep), (x0 + main_w / 2, y1))
    arrow((x0 + main_w, y1 - h_tri / 2), (side_x, y1 - h_tri / 2))
    y2 = y1 - h_tri - _GAP
    b_eli = box(x0, y2, main_w, h_eli, elig_txt, "eligible")
    arrow((x0 + main_w / 2, y1 - h_tri), (x0 + main_w / 2, y2))
    y3 = y2 - h_eli - _GAP
    split_y = y3 + _GAP / 2
    centres = [x0 + i * (out_w + out_gap) + out_w / 2 for i in range(len(counts.outcomes))]
    if centres:
        ax.plot([x0 + main_w / 2] * 2, [y2 - h_eli, split_y], color="black", linewidth=1)
        ax.plot([min(centres + [x0 + main_w / 2]), max(centres + [x0 + main_w / 2])], [split_y] * 2,
                color="black", linewidth=1)
    for o, txt, cx in zip(counts.outcomes, out_txts, centres):
        box(cx - out_w / 2, y3, out_w, h_out, txt, f"outcome:{o.outcome}")
        arrow((cx, split_y), (cx, y3))

    # phase bars at the left, as in the PRISMA 2020 template
    phases = [("Identification", b_rep[1], y), ("Screening", b_tri[1], y1),
              ("Included", y3 - h_out, y2)]
    for name, lo, hi in phases:
        ax.add_patch(FancyBboxPatch((margin, lo), phase_w, hi - lo, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor="#cfe2f3", edgecolor="#6fa8dc", linewidth=1,
                                    gid=f"phase:{name}"))
        ax.text(margin + phase_w / 2, (lo + hi) / 2, name, rotation=90, ha="center", va="center",
                fontsize=_FONT, fontweight="bold", gid=f"phasetext:{name}")
    del b_link, b_exc
    return fig


__all__ = ["PrismaCounts", "OutcomeCounts", "prisma_counts", "prisma_figure", "split_reports"]
