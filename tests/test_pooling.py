"""gm.pool against metafor::rma for 5 datasets x 7 estimators x 2 tests (plus predict, confint)."""
import itertools
import warnings

import numpy as np
import pytest

import gutmeta as gm
from gutmeta import pooling
from conftest import CLOSED, ITERATIVE, assert_close, tol_for
from test_reference_grid import DATASETS, METHODS, POOL_QUANTITIES, TESTS


@pytest.mark.parametrize("ds,method,test", list(itertools.product(DATASETS, METHODS, TESTS)))
def test_pool_matches_metafor(ds, method, test, dataset, ref_values):
    d = dataset(ds)
    fit = gm.pool(d.yi, d.vi, method=method, test=test)
    for q in sorted(POOL_QUANTITIES):
        assert_close(getattr(fit, q), ref_values(ds, "pool", method, test, q), tol_for(method),
                     f"{ds} {method} {test} {q}")


@pytest.mark.parametrize("ds", DATASETS)
def test_tau2_profile_ci(ds, dataset, ref_values):
    d = dataset(ds)
    fit = gm.pool(d.yi, d.vi, method="REML")
    assert_close(fit.tau2_ci, [ref_values(ds, "tau2_ci", "REML", "z", "tau2_ci_low")[0],
                               ref_values(ds, "tau2_ci", "REML", "z", "tau2_ci_high")[0]], ITERATIVE)


def test_statsmodels_path_equals_own_code(dataset):
    """statsmodels' combine_effects (no longer used for estimation) agrees with our DL and PM here.

    It is not trusted in general: its PM returns 0 on the SMDs of dat.normand1999
    (test_edge_cases.py::test_statsmodels_pm_fails_where_ours_does_not).
    """
    for ds in DATASETS:
        d = dataset(ds)
        y, v = d.yi.to_numpy(), d.vi.to_numpy()
        X = np.ones((len(y), 1))
        assert_close(pooling._tau2_statsmodels(y, v, "DL"), pooling._tau2_dl(y, v, X), CLOSED)
        assert_close(pooling._tau2_statsmodels(y, v, "PM"), pooling._tau2_pm(y, v, X), ITERATIVE)


def test_independent_wls_recomputation(dataset):
    """The REML estimate equals a weighted mean with weights 1/(v + tau2), computed by hand."""
    d = dataset("bcg")
    fit = gm.pool(d.yi, d.vi, method="REML")
    w = 1 / (d.vi + fit.tau2)
    assert_close(fit.estimate, np.sum(w * d.yi) / np.sum(w), CLOSED)
    assert_close(fit.se, np.sqrt(1 / np.sum(w)), CLOSED)
    assert_close(fit.weights.sum(), 100.0, CLOSED)


def test_reml_nonconvergence_is_reported(dataset, monkeypatch):
    d = dataset("bcg")
    monkeypatch.setattr(pooling, "MAXITER", 1)
    with pytest.warns(gm.ConvergenceWarning, match="did not converge"):
        fit = gm.pool(d.yi, d.vi, method="REML")
    assert fit.converged is False
    assert fit.method == "REML"  # not silently replaced by another estimator
    assert "did not converge" in str(fit)


def test_fe_is_alias_of_ee(dataset):
    d = dataset("bcg")
    assert gm.pool(d.yi, d.vi, method="FE").estimate == gm.pool(d.yi, d.vi, method="EE").estimate


def test_level_changes_interval_width(dataset):
    d = dataset("bcg")
    a = gm.pool(d.yi, d.vi, level=0.95)
    b = gm.pool(d.yi, d.vi, level=0.80)
    assert (b.ci_high - b.ci_low) < (a.ci_high - a.ci_low)
    assert b.tau2_ci[1] < a.tau2_ci[1]


def test_to_frame_has_the_numbers(dataset):
    d = dataset("bcg")
    fit = gm.pool(d.yi, d.vi)
    row = fit.to_frame().iloc[0]
    assert row["estimate"] == fit.estimate and row["i2"] == fit.i2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        str(fit)
