"""Leave-one-out, influence, Baujat and GOSH against metafor."""
import numpy as np
import pytest

import gutmeta as gm
from conftest import CLOSED, assert_close, tol_for

CASES = [(ds, m) for ds in ("bcg", "normand1999", "raudenbush1985") for m in ("DL", "REML")]


@pytest.mark.parametrize("ds,method", CASES)
def test_leave_one_out(ds, method, dataset, ref_values):
    d = dataset(ds)
    loo = gm.leave_one_out(d.yi, d.vi, method=method, labels=d.study)
    for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("ci_low", "ci.lb"), ("ci_high", "ci.ub"),
                         ("tau2", "tau2"), ("i2", "I2"), ("q", "Q")]:
        assert_close(loo[ours], ref_values(ds, "leave1out", method, "z", theirs), tol_for(method), ours)
    assert list(loo.index) == list(d.study)


@pytest.mark.parametrize("ds,method", CASES)
def test_influence(ds, method, dataset, ref_values):
    d = dataset(ds)
    inf = gm.influence(d.yi, d.vi, method=method)
    for ours, theirs in [("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook.d"),
                         ("cov_r", "cov.r"), ("tau2_del", "tau2.del"), ("q_del", "QE.del"),
                         ("hat", "hat"), ("weight", "weight")]:
        assert_close(inf[ours], ref_values(ds, "influence", method, "z", theirs), tol_for(method), ours)


@pytest.mark.parametrize("ds,method", CASES)
def test_baujat(ds, method, dataset, ref_values):
    d = dataset(ds)
    bj = gm.baujat(d.yi, d.vi, method=method)
    assert_close(bj["x"], ref_values(ds, "baujat", method, "z", "x"), tol_for(method))
    assert_close(bj["y"], ref_values(ds, "baujat", method, "z", "y"), tol_for(method))


@pytest.mark.parametrize("method", ["EE", "DL", "REML"])
def test_gosh_every_subset_matches_metafor(method, dataset, ref_values):
    d = dataset("normand1999")
    g = gm.gosh(d.yi, d.vi, method=method)
    assert len(g) == 2**9 - 1
    assert_close(g["subset_id"], ref_values("normand1999", "gosh", method, "z", "subset_id"), CLOSED)
    for q in ("estimate", "i2", "tau2"):
        assert_close(g[q], ref_values("normand1999", "gosh", method, "z", q), tol_for(method), q)
    assert g["converged"].all()


@pytest.mark.parametrize("method", ["EE", "DL"])
def test_gosh_summary_bcg(method, dataset, ref_values):
    d = dataset("bcg")
    g = gm.gosh(d.yi, d.vi, method=method)
    assert len(g) == ref_values("bcg", "gosh_summary", method, "z", "n_subsets")[0]
    for ours, theirs in [(g.estimate.mean(), "estimate_mean"), (g.estimate.min(), "estimate_min"),
                         (g.estimate.max(), "estimate_max"), (g.i2.mean(), "i2_mean"),
                         (g.tau2.mean(), "tau2_mean")]:
        assert_close(ours, ref_values("bcg", "gosh_summary", method, "z", theirs), dict(rtol=1e-9, atol=1e-12))


def test_gosh_membership_columns_and_scalar_agreement(dataset):
    d = dataset("raudenbush1985").iloc[:12]
    g = gm.gosh(d.yi, d.vi, method="REML", labels=d.study)
    rng = np.random.default_rng(5)
    for i in rng.integers(0, len(g), 25):
        row = g.iloc[i]
        mask = row[list(d.study)].to_numpy(bool)
        assert mask.sum() == row.k
        fit = gm.pool(d.yi[mask], d.vi[mask], method="REML")
        assert_close([row.estimate, row.tau2], [fit.estimate, fit.tau2], dict(rtol=1e-7, atol=1e-9))


def test_gosh_sampling_is_seeded_and_unique(dataset):
    d = dataset("bangertdrowns2004")  # k = 48: too many subsets to enumerate
    a = gm.gosh(d.yi, d.vi, method="DL", n_subsets=2000, seed=1)
    b = gm.gosh(d.yi, d.vi, method="DL", n_subsets=2000, seed=1)
    c = gm.gosh(d.yi, d.vi, method="DL", n_subsets=2000, seed=2)
    assert len(a) == 2000 and a["subset_id"].is_unique
    assert a["subset_id"].equals(b["subset_id"]) and not a["subset_id"].equals(c["subset_id"])


def test_gosh_one_study_subsets_have_zero_i2(dataset):
    d = dataset("bcg")
    g = gm.gosh(d.yi, d.vi, method="EE")
    assert (g.loc[g.k == 1, "i2"] == 0).all()
    with pytest.raises(ValueError, match="gosh supports"):
        gm.gosh(d.yi, d.vi, method="PM")
