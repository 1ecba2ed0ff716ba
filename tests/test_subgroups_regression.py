"""Subgroup analysis and meta-regression against metafor."""
import itertools

import numpy as np
import pandas as pd
import pytest

import gutmeta as gm
from conftest import CLOSED, ITERATIVE, assert_close, tol_for

SUB = [("bcg", "alloc"), ("bangertdrowns2004", "grade")]


def _groups(d, col):
    d = d[d[col].notna()]
    g = d[col].astype(int).astype(str) if col == "grade" else d[col].astype(str)
    return d, g


@pytest.mark.parametrize("case,method", list(itertools.product(SUB, ["DL", "REML"])))
def test_subgroups_separate_tau2(case, method, dataset, ref_values):
    ds, col = case
    d, g = _groups(dataset(ds), col)
    res = gm.subgroups(d.yi, d.vi, g, method=method)
    tol = tol_for(method)
    assert_close(res.table["estimate"], ref_values(ds, "subgroup", method, "z", "group_estimate"), tol)
    assert_close(res.table["se"], ref_values(ds, "subgroup", method, "z", "group_se"), tol)
    assert_close(res.table["tau2"], ref_values(ds, "subgroup", method, "z", "group_tau2"), tol)
    assert_close(res.table["k"], ref_values(ds, "subgroup", method, "z", "group_k"), CLOSED)
    assert_close(res.q_between, ref_values(ds, "subgroup", method, "z", "q_between"), tol)
    assert_close(res.pvalue, ref_values(ds, "subgroup", method, "z", "q_between_pvalue"), tol)


@pytest.mark.parametrize("case,method,test", list(itertools.product(SUB, ["DL", "REML"], ["z", "knha"])))
def test_subgroups_common_tau2_moderator_test(case, method, test, dataset, ref_values):
    ds, col = case
    d, g = _groups(dataset(ds), col)
    res = gm.subgroups(d.yi, d.vi, g, method=method, test=test)
    tol = tol_for(method)
    assert_close(res.qm, ref_values(ds, "moderator", method, test, "qm"), tol)
    assert_close(res.qm_pvalue, ref_values(ds, "moderator", method, test, "qm_pvalue"), tol)
    assert_close(res.tau2_common, ref_values(ds, "moderator", method, test, "tau2"), tol)


REG = [("bcg", ["ablat"]), ("bcg", ["ablat", "year"]), ("raudenbush1985", ["weeks"]),
       ("bangertdrowns2004", ["length"])]


@pytest.mark.parametrize("case,method,test", list(itertools.product(REG, ["DL", "REML", "ML"], ["z", "knha"])))
def test_meta_regression(case, method, test, dataset, ref_values):
    ds, cols = case
    d = dataset(ds).dropna(subset=cols)
    r = gm.meta_regression(d.yi, d.vi, d[cols], method=method, test=test)
    a = "metareg_" + "+".join(cols)
    tol = tol_for(method)
    if "year" in cols:
        # X'WX has condition number ~3e11 (years near 1960 beside an intercept), so even the
        # closed-form DL fit carries ~1e-10 relative rounding on either side; allow 1e-8.
        tol = dict(rtol=max(tol["rtol"], 1e-8), atol=tol["atol"])
    assert r.names == ("intercept", *cols)
    for ours, theirs in [(r.coef, "coef"), (r.se, "se"), (r.pvalue, "pvalue"), (r.tau2, "tau2"),
                         (r.qm, "qm"), (r.qm_pvalue, "qm_pvalue"), (r.qe, "qe"), (r.i2, "i2"), (r.r2, "r2")]:
        assert_close(ours, ref_values(ds, a, method, test, theirs), tol, theirs)


def test_permutation_test_is_seeded_and_sensible(dataset):
    d = dataset("bcg")
    a = gm.permutation_test(d.yi, d.vi, d[["ablat"]], n_perm=200, seed=3)
    b = gm.permutation_test(d.yi, d.vi, d[["ablat"]], n_perm=200, seed=3)
    assert a.pvalue == b.pvalue and 0 < a.pvalue <= 1
    assert a.pvalue < 0.05  # latitude explains the BCG heterogeneity
    noise = np.random.default_rng(0).normal(size=len(d))
    c = gm.permutation_test(d.yi, d.vi, noise, n_perm=200, seed=3)
    assert c.pvalue > 0.05
    assert a.qm == pytest.approx(gm.meta_regression(d.yi, d.vi, d[["ablat"]]).qm)


def test_categorical_moderator_is_dummy_coded(dataset):
    d = dataset("bcg")
    r = gm.meta_regression(d.yi, d.vi, pd.DataFrame({"alloc": d.alloc}))
    assert r.names == ("intercept", "alloc_random", "alloc_systematic")
    assert r.table().shape == (3, 6)
