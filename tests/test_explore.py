"""Drive each explorer through its real widgets: set values, check the numbers, the summary and
what the Output widget holds (exactly one item: the new figure, or the sentence saying why not)."""
import matplotlib

matplotlib.use("Agg")

import html  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import gutmeta as gm  # noqa: E402
from gutmeta.explore import HeterogeneityExplorer, PoolingExplorer, SubgroupExplorer  # noqa: E402
from gutmeta.pooling import METHODS_FOR_UI  # noqa: E402


@pytest.fixture
def table(dataset):
    d = dataset("bcg")
    return pd.DataFrame({"study": d.study, "comparison": "vaccine vs control", "yi": d.yi, "vi": d.vi,
                         "alloc": d.alloc})


def shown(ex):
    """What the Output widget shows: 'figure' or the sentence; exactly one item."""
    outs = ex.output.outputs
    assert len(outs) == 1, outs
    data = outs[0]["data"]
    if "image/png" in data:
        assert len(data["image/png"]) > 1000
        return "figure"
    return data["text/plain"]


def untick_all(ex):
    ex.select([False] * len(ex.studies))


def test_pooling_explorer_follows_its_widgets(table):
    ex = PoolingExplorer(table)
    ex.widget  # builds and draws the default state
    assert shown(ex) == "figure"
    assert ex.result.estimate == pytest.approx(gm.pool(table.yi, table.vi).estimate)
    ex.method.value = "DL"
    ex.test.value = "knha"
    want = gm.pool(table.yi, table.vi, method="DL", test="knha")
    assert ex.result.method == "DL" and ex.result.ci_low == pytest.approx(want.ci_low)
    assert gm.fmt_est(want.estimate) in ex.summary.value
    ex.studies[0].value = False
    ex.studies[1].value = False
    want = gm.pool(table.yi[2:], table.vi[2:], method="DL", test="knha")
    assert ex.result.k == 11 and ex.result.estimate == pytest.approx(want.estimate)
    assert ex.summary.value.startswith("k = 11:")


@pytest.mark.parametrize("method", METHODS_FOR_UI)
def test_each_estimator(table, method):
    ex = PoolingExplorer(table)
    ex.widget
    ex.method.value = method
    want = gm.pool(table.yi, table.vi, method=method)
    assert ex.result.method == method and ex.result.tau2 == pytest.approx(want.tau2, rel=1e-6, abs=1e-9)
    assert gm.fmt_est(want.estimate) in ex.summary.value
    assert shown(ex) == "figure"


def test_no_trial_ticked_clears_the_figure(table):
    ex = PoolingExplorer(table)
    ex.widget
    assert shown(ex) == "figure"
    untick_all(ex)
    assert ex.result is None
    assert shown(ex) == "No pooled estimate: no trial is selected."   # the old figure is gone
    assert "no trial is selected" in ex.summary.value
    assert ex.static_figure() is None
    ex.studies[3].value = True                                         # and back again
    assert shown(ex) == "figure" and ex.result.k == 1


def test_one_trial(table):
    ex = PoolingExplorer(table)
    ex.widget
    untick_all(ex)
    ex.studies[0].value = True
    assert ex.result.k == 1 and ex.result.estimate == pytest.approx(table.yi[0])
    assert "no prediction interval" in ex.summary.value
    ex.test.value = "knha"                                             # needs two trials
    assert ex.result is None and "Knapp-Hartung" in shown(ex)
    ex.studies[1].value = True
    assert ex.result.k == 2 and shown(ex) == "figure"
    assert "no prediction interval" in ex.summary.value                # k = 2 < 3
    ex.studies[2].value = True
    assert "95% prediction interval" in ex.summary.value


def test_heterogeneity_explorer_reports_tau2_ci(table):
    ex = HeterogeneityExplorer(table)
    ex.widget
    fit = gm.pool(table.yi, table.vi)
    assert f"{fit.tau2_ci[1]:.3f}" in ex.summary.value
    ex.method.value = "PM"
    assert ex.result.tau2 == pytest.approx(gm.pool(table.yi, table.vi, method="PM").tau2)
    untick_all(ex)
    ex.studies[5].value = True                                         # one trial: no heterogeneity
    assert ex.result is None and "heterogeneity" in shown(ex).lower()
    assert "nan" not in ex.summary.value.lower()


@pytest.fixture
def subgroup_table(table):
    return table.assign(half=np.where(np.arange(len(table)) < 6, "early", "late"),
                        single=np.where(np.arange(len(table)) == 0, "first", "rest"))


def test_subgroup_explorer_switches_moderator(subgroup_table):
    table = subgroup_table
    ex = SubgroupExplorer(table, ["alloc", "half", "single"])
    ex.widget
    want = gm.subgroups(table.yi, table.vi, table.alloc)
    assert ex.result.q_between == pytest.approx(want.q_between)
    assert shown(ex) == "figure"
    ex.moderator.value = "half"
    want = gm.subgroups(table.yi, table.vi, table.half)
    assert ex.result.q_between == pytest.approx(want.q_between)
    assert "early" in ex.summary.value and "Q_between" in ex.summary.value


def test_subgroup_explorer_runs_no_test_with_a_one_trial_subgroup(subgroup_table):
    ex = SubgroupExplorer(subgroup_table, ["single", "half"])
    ex.widget
    assert ex.result is None                                           # 'first' has one trial
    assert "Q_between" not in ex.summary.value and "first (1 trial)" in ex.summary.value
    assert shown(ex) == "figure"                                       # the trials, by level
    fig = ex.static_figure()                                           # the static figure runs no test
    assert "no test" in fig.axes[0].get_title()
    gm.plots.close(fig)
    ex.moderator.value = "half"                                        # each moderator
    assert ex.result is not None and "Q_between" in ex.summary.value
    ex.select([False] * 5 + [True] * (len(ex.studies) - 5))             # 'early' left with one trial
    assert ex.result is None and "early (1 trial)" in ex.summary.value
    untick_all(ex)
    assert "no trial is selected" in shown(ex)


def test_subgroup_explorer_one_subgroup(subgroup_table):
    ex = SubgroupExplorer(subgroup_table, ["half"])
    ex.widget
    ex.select(list(subgroup_table.study[:6]))                          # by name
    assert ex.result is None and "at least 2 subgroups" in ex.summary.value
    assert shown(ex) == "figure"


def test_bad_tables_are_named(table):
    with pytest.raises(ValueError, match="at least one study"):
        PoolingExplorer(table.iloc[:0])
    with pytest.raises(ValueError, match="'vi'"):
        PoolingExplorer(table.drop(columns="vi"))
    with pytest.raises(ValueError, match="nope"):
        SubgroupExplorer(table, ["nope"])
    with pytest.raises(ValueError, match="unknown studies"):
        PoolingExplorer(table).select(["No such trial"])


def test_static_figure(table):
    fig = PoolingExplorer(table).static_figure()
    assert isinstance(fig, matplotlib.figure.Figure)
    gm.plots.close(fig)


def test_pooling_explorer_prior_choice_adds_the_bayesian_estimate():
    ev = gm.load_evidence()
    table = gm.effect_table(ev)
    ex = PoolingExplorer(table)
    ex.update()
    assert "Bayesian" not in ex.summary.value and ex.bayes is None
    ex.prior.value = "half-normal(0.5)"
    want = gm.bayes_pool(table.yi, table.vi, tau_prior="half-normal", tau_scale=0.5)
    assert ex.bayes.mu_median == pytest.approx(want.mu_median)
    assert gm.fmt_est(want.mu_median) in html.unescape(ex.summary.value)
    ex.prior.value = "Rhodes 2015 (pharmacological)"
    assert ex.bayes.mu_median == pytest.approx(gm.bayes_pool(table.yi, table.vi, tau_prior="rhodes").mu_median)
    ex.select([False] * len(table))           # nothing ticked: no Bayesian fit either
    assert ex.bayes is None
    with pytest.raises(ValueError, match="unknown prior"):
        PoolingExplorer(table, prior="flat")
