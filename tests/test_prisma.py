"""PRISMA 2020 flow diagram (gutmeta.prisma): counts add up, match screening_counts, and the
figure shows them without overlapping text."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import gutmeta as gm  # noqa: E402
from gutmeta.prisma import prisma_counts, prisma_figure, split_reports  # noqa: E402


@pytest.fixture(scope="module")
def real():
    ev = gm.load_evidence()
    cov = gm.coverage(ev)
    return ev, cov, prisma_counts(ev, cov)


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


# --------------------------------------------------------------------------- a constructed case

def small_case():
    trials = pd.DataFrame({
        "trial_id": ["a", "b", "c", "d", "e"],
        "eligible": ["yes", "yes", "yes", "no", "no"],
        "exclusion_code": [None, None, None, "population", "design"],
        "exclusion_reason": [None, None, None, "healthy adults", "not randomised"],
        "secondary_reports": [None, "X 2020 (J; doi 1); Y 2021;3:4 (thesis)", None, "Z 2019", None],
    })
    rows = []
    status = {"a": ("arm-level", "none"), "b": ("derived", "derived"), "c": ("none", "none")}
    for tid in trials.trial_id:
        for i, outcome in enumerate(("depression", "anxiety")):
            st = status[tid][i] if tid in status else "excluded"
            rows.append({"trial_id": tid, "study": tid, "outcome": outcome, "status": st, "reason": ""})
    return SimpleNamespace(trials=trials), pd.DataFrame(rows)


def test_split_reports():
    assert split_reports(None) == [] and split_reports(float("nan")) == [] and split_reports(" ") == []
    assert split_reports("A 2020 (x; y); B 2021;12:3 (z)") == ["A 2020 (x; y)", "B 2021;12:3 (z)"]
    assert split_reports("A [1; 2]; B") == ["A [1; 2]", "B"]


def test_constructed_counts():
    ev, cov = small_case()
    c = prisma_counts(ev, cov)
    assert (c.reports_main, c.reports_secondary, c.reports) == (5, 3, 8)
    assert (c.trials, c.eligible, c.n_excluded, c.reports_eligible) == (5, 3, 2, 5)
    assert dict(c.excluded) == {"population": 1, "design": 1}
    dep, anx = c.outcome("depression"), c.outcome("anxiety")
    assert (dep.analysable, dep.none, dict(dep.routes)) == (2, 1, {"arm-level": 1, "derived": 1})
    assert dep.statuses == (("arm-level", 1), ("derived", 1))
    assert dep.breakdown == (("arm-level", "arm-level", 1), ("derived", "derived", 1))
    assert (anx.analysable, anx.none, dict(anx.routes)) == (1, 2, {"derived": 1})
    with pytest.raises(KeyError):
        c.outcome("sleep")


def test_route_column_takes_precedence_over_status():
    ev, cov = small_case()
    cov["route"] = None
    cov.loc[(cov.trial_id == "b") & (cov.outcome == "depression"), "route"] = "exact p->t->SMD"
    c = prisma_counts(ev, cov)
    assert c.outcome("depression").routes == (("arm-level", 1), ("exact p->t->SMD", 1))
    assert dict(c.outcome("anxiety").routes) == {"derived": 1}   # empty route: the status
    assert c.outcome("depression").breakdown == (("arm-level", "arm-level", 1),
                                                 ("derived", "exact p->t->SMD", 1))
    shown = "\n".join(texts(prisma_figure(c)))
    assert "  derived: 1\n    exact p → t → SMD: 1" in shown
    plt.close("all")


def test_a_change_in_the_input_changes_the_boxes():
    ev, cov = small_case()
    before = prisma_counts(ev, cov)
    trials = ev.trials.copy()
    trials.loc[trials.trial_id == "c", ["eligible", "exclusion_code"]] = ["no", "co_intervention"]
    cov2 = cov.copy()
    cov2.loc[cov2.trial_id == "c", "status"] = "excluded"
    after = prisma_counts(SimpleNamespace(trials=trials), cov2)
    assert (after.eligible, after.n_excluded) == (before.eligible - 1, before.n_excluded + 1)
    assert dict(after.excluded)["co_intervention"] == 1
    assert after.outcome("depression").none == before.outcome("depression").none - 1
    t_before, t_after = texts(prisma_figure(before)), texts(prisma_figure(after))
    assert any("Eligible trials (n = 3)" in t for t in t_before)
    assert any("Eligible trials (n = 2)" in t for t in t_after)
    assert any("co-intervention: 1" in t for t in t_after)
    assert not any("co-intervention" in t for t in t_before)
    plt.close("all")


def test_bad_coverage_is_rejected():
    ev, cov = small_case()
    with pytest.raises(ValueError, match="no depression row for eligible trial.*'c'"):
        prisma_counts(ev, cov[~((cov.trial_id == "c") & (cov.outcome == "depression"))])
    wrong = cov.copy()
    wrong.loc[(wrong.trial_id == "a") & (wrong.outcome == "anxiety"), "status"] = "excluded"
    with pytest.raises(ValueError, match=r"\['a'\] are eligible"):
        prisma_counts(ev, wrong)
    with pytest.raises(ValueError, match="no column 'status'"):
        prisma_counts(ev, cov.drop(columns="status"))
    bad = SimpleNamespace(trials=ev.trials.assign(eligible=["yes", "maybe", "yes", "no", "no"]))
    with pytest.raises(ValueError, match="eligible"):
        prisma_counts(bad, cov)


def test_check_catches_boxes_that_do_not_add_up():
    ev, cov = small_case()
    c = prisma_counts(ev, cov)
    from dataclasses import replace
    with pytest.raises(ValueError, match="eligible .* excluded"):
        replace(c, eligible=c.eligible + 1).check()
    o = c.outcomes[0]
    with pytest.raises(ValueError, match="analysable"):
        replace(c, outcomes=(replace(o, none=o.none + 1),) + c.outcomes[1:]).check()
    with pytest.raises(ValueError, match="routes"):
        replace(c, outcomes=(replace(o, routes=(("arm-level", 5),)),) + c.outcomes[1:]).check()


# --------------------------------------------------------------------------- the real data

def test_real_counts_add_up(real):
    ev, cov, c = real
    c.check()
    t = ev.trials
    assert c.trials == len(t)
    assert c.eligible + c.n_excluded == c.trials
    assert c.eligible == (t.eligible == "yes").sum()
    for o in c.outcomes:
        assert o.analysable + o.none == c.eligible
        assert sum(n for _, n in o.routes) == o.analysable
    assert [o.outcome for o in c.outcomes] == ["depression", "anxiety"]
    # every non-empty secondary_reports cell adds at least one report
    assert c.reports_secondary >= (t.secondary_reports.fillna("").str.strip() != "").sum() > 0


def test_real_counts_match_screening_counts(real):
    ev, cov, c = real
    sc = dict(zip(gm.screening_counts(ev)["stage"], gm.screening_counts(ev)["trials"]))
    cand = [v for k, v in sc.items() if k.startswith("candidate trials")]
    assert cand == [c.trials]
    assert sc["eligible trials"] == c.eligible
    excl = {k.split(": ", 1)[1]: v for k, v in sc.items() if k.startswith("excluded: ")}
    assert excl == {code.replace("_", " "): n for code, n in c.excluded}
    statuses = set(cov.status) - {"excluded", "none"}
    for o in c.outcomes:
        assert sc[f"{o.outcome}: none"] == o.none
        assert sum(sc.get(f"{o.outcome}: {s}", 0) for s in statuses) == o.analysable
        assert {s: n for s, n in o.statuses} == {s: sc[f"{o.outcome}: {s}"] for s in statuses
                                                 if sc.get(f"{o.outcome}: {s}", 0)}
        route_rows = {k.split(": route ", 1)[1]: v for k, v in sc.items()
                      if k.startswith(f"{o.outcome}: route ")}
        if route_rows:  # screening_counts lists routes too: the same numbers
            assert route_rows == dict(o.routes)
        if "route" not in cov.columns:
            assert {r: n for r, n in o.routes} == {s: sc[f"{o.outcome}: {s}"] for s in statuses
                                                   if sc.get(f"{o.outcome}: {s}", 0)}


def test_real_figure_shows_the_numbers(real, tmp_path):
    ev, cov, c = real
    fig = prisma_figure(c)
    assert fig.get_size_inches()[0] * 100 == pytest.approx(900)
    all_text = "\n".join(texts(fig))
    for expected in (f"Reports of candidate trials (n = {c.reports})",
                     f"secondary reports: {c.reports_secondary}",
                     f"Trials assessed for eligibility (n = {c.trials})",
                     f"Trials excluded (n = {c.n_excluded})",
                     f"Eligible trials (n = {c.eligible})"):
        assert expected in all_text.replace("\n", " ").replace("  ", " ") or expected in all_text
    for code, n in c.excluded:
        assert f"{code.replace('_', '-')}: {n}" in all_text
    for o in c.outcomes:
        assert f"{o.outcome.capitalize()}: analysable (n = {o.analysable})" in all_text
        assert f"No usable numbers (n = {o.none})" in all_text
        for route, n in o.routes:
            assert f"{route.replace('->', ' → ')}: {n}" in all_text or f"  {route}: {n}" in all_text
        for status, n in o.statuses:
            assert f"  {status}: {n}" in all_text
    fig.savefig(tmp_path / "prisma.png", dpi=100)
    assert (tmp_path / "prisma.png").stat().st_size > 10_000
    plt.close(fig)


def _extents(fig):
    r = fig.canvas.get_renderer()
    boxes = {p.get_gid()[4:]: p.get_window_extent(r) for p in fig.axes[0].patches
             if (p.get_gid() or "").startswith("box:")}
    txts = {t.get_gid(): t.get_window_extent(r) for t in fig.axes[0].texts if t.get_gid()}
    return boxes, txts


@pytest.mark.parametrize("routes", [None, ["arm-level", "responders->OR->SMD", "exact p->t->SMD",
                                           "t->SMD", "F->t->SMD", "median/IQR->mean/SD"]])
def test_figure_text_fits_in_boxes_and_does_not_overlap(real, routes):
    ev, cov, c = real
    if routes:  # many routes make the outcome boxes taller, never crowded
        cov = cov.copy()
        elig = set(ev.trials.trial_id[ev.trials.eligible == "yes"])
        mask = cov.trial_id.isin(elig)
        cov.loc[mask, "status"] = "derived"
        cov.loc[mask, "route"] = [routes[i % len(routes)] for i in range(mask.sum())]
        c = prisma_counts(ev, cov)
    fig = prisma_figure(c)
    fig.canvas.draw()
    boxes, txts = _extents(fig)
    for gid, ext in txts.items():
        if gid.startswith("text:"):
            b = boxes[gid[5:]]
            assert b.x0 <= ext.x0 and ext.x1 <= b.x1 and b.y0 <= ext.y0 and ext.y1 <= b.y1, gid
    for gid, ext in txts.items():
        if gid.startswith("phasetext:"):
            bar = [p for p in fig.axes[0].patches if p.get_gid() == f"phase:{gid[10:]}"][0]
            b = bar.get_window_extent(fig.canvas.get_renderer())
            assert b.y0 <= ext.y0 and ext.y1 <= b.y1, gid
    items = list(txts.items())
    for i, (g1, e1) in enumerate(items):
        for g2, e2 in items[i + 1:]:
            assert not e1.overlaps(e2), (g1, g2)
    width, height = fig.get_size_inches() * fig.dpi
    assert all(0 <= e.x0 and e.x1 <= width and 0 <= e.y0 and e.y1 <= height for e in txts.values())
    plt.close(fig)


def test_to_frame_lists_every_box(real):
    _, _, c = real
    f = c.to_frame()
    assert f.loc[f.stage == "eligible trials", "n"].item() == c.eligible
    assert f.loc[f.stage == "candidate trials", "n"].item() == c.trials
    assert np.issubdtype(f["n"].dtype, np.integer)
