"""Egger, Begg, trim-and-fill and PET-PEESE against metafor and R's lm."""
import itertools

import numpy as np
import pytest

import gutmeta as gm
from conftest import CLOSED, ITERATIVE, assert_close, tol_for

DATASETS = ["bcg", "normand1999", "bangertdrowns2004", "raudenbush1985"]


@pytest.mark.parametrize("ds,method,test", list(itertools.product(DATASETS, ["EE", "DL", "REML"], ["z", "knha"])))
def test_egger_regtest_default(ds, method, test, dataset, ref_values):
    d = dataset(ds)
    eg = gm.egger_test(d.yi, d.vi, method=method, test=test)
    tol = tol_for(method)
    assert_close(eg.statistic, ref_values(ds, "egger", method, test, "statistic"), tol)
    assert_close(eg.pvalue, ref_values(ds, "egger", method, test, "pvalue"), tol)
    assert_close(eg.limit_estimate, ref_values(ds, "egger", method, test, "limit_estimate"), tol)


@pytest.mark.parametrize("ds", DATASETS)
def test_egger_classical_and_rank_test(ds, dataset, ref_values):
    d = dataset(ds)
    eg = gm.egger_test(d.yi, d.vi, model="lm")
    assert_close(eg.statistic, ref_values(ds, "egger_lm", "EE", "t", "statistic"), CLOSED)
    assert_close(eg.pvalue, ref_values(ds, "egger_lm", "EE", "t", "pvalue"), CLOSED)
    rk = gm.rank_test(d.yi, d.vi)
    assert_close(rk.tau, ref_values(ds, "ranktest", "EE", "", "tau"), CLOSED)
    assert_close(rk.pvalue, ref_values(ds, "ranktest", "EE", "", "pvalue"), CLOSED)


@pytest.mark.parametrize("ds,method,estimator",
                         list(itertools.product(DATASETS, ["EE", "DL", "REML"], ["L0", "R0"])))
def test_trim_and_fill(ds, method, estimator, dataset, ref_values):
    d = dataset(ds)
    tf = gm.trim_and_fill(d.yi, d.vi, method=method, estimator=estimator)
    a = f"trimfill_{estimator}"
    assert tf.k0 == ref_values(ds, a, method, "z", "k0")[0]
    assert (tf.side == "right") == bool(ref_values(ds, a, method, "z", "side_right")[0])
    for ours, theirs in [(tf.fit.estimate, "estimate"), (tf.fit.se, "se"), (tf.fit.tau2, "tau2"),
                         (tf.fit.ci_low, "ci_low"), (tf.fit.ci_high, "ci_high")]:
        assert_close(ours, ref_values(ds, a, method, "z", theirs), tol_for(method), theirs)
    assert len(tf.filled_yi) == tf.k0 == tf.fit.k - len(d)


def test_trim_and_fill_finds_studies_somewhere(dataset, ref_values):
    """Guard: the reference grid contains cases with k0 > 0 on both sides."""
    sides = set()
    for ds, m, e in itertools.product(DATASETS, ["EE", "DL", "REML"], ["L0", "R0"]):
        tf = gm.trim_and_fill(dataset(ds).yi, dataset(ds).vi, method=m, estimator=e)
        if tf.k0 > 0:
            sides.add(tf.side)
    assert sides == {"left", "right"}


@pytest.mark.parametrize("ds", DATASETS)
def test_pet_peese(ds, dataset, ref_values):
    d = dataset(ds)
    pp = gm.pet_peese(d.yi, d.vi)
    for ours, theirs, a in [(pp.pet, "intercept", "pet"), (pp.pet_se, "intercept_se", "pet"),
                            (pp.pet_pvalue, "intercept_p", "pet"), (pp.peese, "intercept", "peese"),
                            (pp.peese_se, "intercept_se", "peese"), (pp.peese_pvalue, "intercept_p", "peese")]:
        assert_close(ours, ref_values(ds, a, "WLS", "t", theirs), CLOSED, f"{a} {theirs}")
    assert pp.estimate == (pp.peese if pp.chosen == "PEESE" else pp.pet)


def test_funnel_contours_are_symmetric():
    c = gm.funnel_contours(0.0, 0.5, levels=(0.95,))
    assert np.allclose(c["low"], -c["high"])
    assert c["high"].iloc[-1] == pytest.approx(1.959963984540054 * 0.5)
