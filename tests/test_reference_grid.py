"""The metafor reference grid is complete, so the comparison tests cannot quietly shrink."""
import itertools

import pandas as pd

from conftest import REF_DIR

DATASETS = ["bcg", "normand1999", "bangertdrowns2004", "raudenbush1985", "homog"]
METHODS = ["EE", "DL", "REML", "ML", "PM", "SJ", "HE"]
TESTS = ["z", "knha"]
POOL_QUANTITIES = {"estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "i2", "h2",
                   "q", "q_pvalue", "pi_low", "pi_high"}


def test_versions_recorded():
    ref = pd.read_csv(REF_DIR / "metafor_reference.csv", keep_default_na=False, dtype=str)
    meta = ref[ref.dataset == "_meta"].set_index("method")["quantity"]
    assert meta["R"].startswith("R version")
    assert meta["metafor"].count(".") == 2


def test_pool_grid_complete(reference):
    pool = reference[reference.analysis == "pool"]
    for ds, m, t in itertools.product(DATASETS, METHODS, TESTS):
        got = set(pool[(pool.dataset == ds) & (pool.method == m) & (pool.test == t)].quantity)
        assert got == POOL_QUANTITIES, (ds, m, t, POOL_QUANTITIES - got)


def test_other_analyses_present(reference):
    expected = {"escalc", "tau2_ci", "leave1out", "influence", "baujat", "egger", "egger_lm", "ranktest",
                "trimfill_L0", "trimfill_R0", "pet", "peese", "subgroup", "moderator", "gosh",
                "gosh_summary", "metareg_ablat", "metareg_ablat+year", "metareg_weeks", "metareg_length"}
    assert expected <= set(reference.analysis)
    assert len(reference) > 9000
    # datasets of different kinds (log risk ratios, SMDs from arm means), one with k >= 30
    bd = pd.read_csv(REF_DIR / "datasets" / "bangertdrowns2004.csv")
    assert len(bd) >= 30
