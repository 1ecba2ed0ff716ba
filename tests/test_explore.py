"""Drive each explorer programmatically: set widget values, check the updated numbers."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import gutmeta as gm  # noqa: E402
from gutmeta.explore import HeterogeneityExplorer, PoolingExplorer, SubgroupExplorer  # noqa: E402


@pytest.fixture
def table(dataset):
    d = dataset("bcg")
    return pd.DataFrame({"study": d.study, "comparison": "vaccine vs control", "yi": d.yi, "vi": d.vi,
                         "alloc": d.alloc})


def test_pooling_explorer_follows_its_widgets(table):
    ex = PoolingExplorer(table)
    ex.widget  # builds and draws the default state
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
    for cb in ex.studies[2:]:
        cb.value = False
    assert ex.result is None and "Too few" in ex.summary.value


def test_heterogeneity_explorer_reports_tau2_ci(table):
    ex = HeterogeneityExplorer(table)
    ex.widget
    fit = gm.pool(table.yi, table.vi)
    assert f"{fit.tau2_ci[1]:.3f}" in ex.summary.value
    ex.method.value = "PM"
    assert ex.result.tau2 == pytest.approx(gm.pool(table.yi, table.vi, method="PM").tau2)


def test_subgroup_explorer_switches_moderator(table):
    table = table.assign(half=np.where(np.arange(len(table)) < 6, "early", "late"))
    ex = SubgroupExplorer(table, ["alloc", "half"])
    ex.widget
    want = gm.subgroups(table.yi, table.vi, table.alloc)
    assert ex.result.q_between == pytest.approx(want.q_between)
    ex.moderator.value = "half"
    want = gm.subgroups(table.yi, table.vi, table.half)
    assert ex.result.q_between == pytest.approx(want.q_between)
    assert "early" in ex.summary.value


def test_static_figure(table):
    fig = PoolingExplorer(table).static_figure()
    assert isinstance(fig, matplotlib.figure.Figure)
    gm.plots.close(fig)
