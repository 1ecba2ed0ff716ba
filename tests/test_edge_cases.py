"""Named edge cases: each gives a clear ValueError or the documented result."""
import numpy as np
import pytest

import gutmeta as gm


def test_k1_returns_the_study():
    fit = gm.pool([0.5], [0.04], method="REML")
    assert fit.k == 1 and fit.estimate == 0.5 and fit.se == pytest.approx(0.2)
    assert fit.tau2 == 0 and fit.i2 == 0 and fit.q == 0 and fit.q_pvalue == 1
    assert (fit.pi_low, fit.pi_high) == pytest.approx((fit.ci_low, fit.ci_high))


def test_k1_knha_is_an_error():
    with pytest.raises(ValueError, match="knha"):
        gm.pool([0.5], [0.04], test="knha")


def test_k2_works_for_every_method():
    for m in ("EE", "DL", "REML", "ML", "PM", "SJ", "HE"):
        fit = gm.pool([0.1, 0.9], [0.02, 0.03], method=m)
        assert np.isfinite(fit.estimate) and fit.tau2 >= 0


def test_q_below_df_gives_zero_not_negative():
    y, v = [0.10, 0.12, 0.11, 0.13], [0.10, 0.12, 0.08, 0.20]
    for m in ("DL", "REML", "ML", "PM", "HE"):
        fit = gm.pool(y, v, method=m)
        assert fit.q < fit.q_df
        assert fit.tau2 == 0 and fit.i2 == 0 and fit.h2 == 1
    assert gm.pool(y, v, method="EE").i2 == 0
    # Sidik-Jonkman is positive by construction (tau0 * Q(tau0) / (k-1) > 0), as in metafor
    assert gm.pool(y, v, method="SJ").tau2 > 0


def test_identical_effects():
    fit = gm.pool([0.3, 0.3, 0.3], [0.1, 0.2, 0.05])
    assert fit.estimate == pytest.approx(0.3) and fit.q == pytest.approx(0, abs=1e-15)
    assert fit.tau2 == 0 and fit.i2 == 0


def test_subgroup_with_one_study():
    res = gm.subgroups([0.1, 0.3, 0.2, 0.9], [0.02, 0.03, 0.02, 0.05], ["a", "a", "a", "b"])
    b = res.table.loc["b"]
    assert b.k == 1 and b.estimate == pytest.approx(0.9, rel=1e-14) and b.tau2 == 0
    assert b.se == pytest.approx(np.sqrt(0.05))


@pytest.mark.parametrize("vi", [[0.1, 0.0, 0.2], [0.1, -0.3, 0.2]])
def test_nonpositive_variance(vi):
    with pytest.raises(ValueError, match=r"study 2: field 'vi' must be > 0"):
        gm.pool([0.1, 0.2, 0.3], vi)


def test_nan_effect_names_the_study():
    with pytest.raises(ValueError, match=r"Trial B: field 'yi' is missing"):
        gm.pool([0.1, np.nan, 0.3], [0.1, 0.1, 0.1], labels=["Trial A", "Trial B", "Trial C"])


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="mismatched lengths"):
        gm.pool([0.1, 0.2, 0.3], [0.1, 0.1])


def test_unknown_method_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown method 'XYZ'; allowed: EE, FE, DL, REML, ML, PM, SJ, HE"):
        gm.pool([0.1, 0.2], [0.1, 0.1], method="XYZ")


def test_unknown_test():
    with pytest.raises(ValueError, match="unknown test 't'"):
        gm.pool([0.1, 0.2], [0.1, 0.1], test="t")


def test_empty_input():
    with pytest.raises(ValueError, match="no studies"):
        gm.pool([], [])


def test_bad_level():
    with pytest.raises(ValueError, match="level"):
        gm.pool([0.1, 0.2], [0.1, 0.1], level=95)


def test_subgroups_need_two_groups_and_no_missing_labels():
    with pytest.raises(ValueError, match="at least two groups"):
        gm.subgroups([0.1, 0.2], [0.1, 0.1], ["a", "a"])
    with pytest.raises(ValueError, match="study 2: field 'group' is missing"):
        gm.subgroups([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], ["a", None, "b"])


def test_meta_regression_collinear_and_missing():
    with pytest.raises(ValueError, match="collinear"):
        gm.meta_regression([0.1, 0.2, 0.3, 0.4], [0.1] * 4, np.column_stack([[1, 2, 3, 4], [2, 4, 6, 8]]))
    with pytest.raises(ValueError, match="study 3"):
        gm.meta_regression([0.1, 0.2, 0.3, 0.4], [0.1] * 4, [1, 2, np.nan, 4])


def test_small_k_for_bias_methods():
    for fn in (gm.egger_test, gm.rank_test, gm.trim_and_fill, gm.pet_peese):
        with pytest.raises(ValueError, match="at least 3"):
            fn([0.1, 0.2], [0.1, 0.1])


# --------------------------------------------------------------------------- issue 8 classes
# "No silent wrong answers": one regression test per class found by the differential suite.
# Each fails on the engine before the fix (PM from statsmodels, first-root ML/REML, y'Py
# without centring, ...) and passes now.

import warnings  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from gutmeta import pooling  # noqa: E402

REF = Path(__file__).parent / "reference"


def _exact_q(y, v):
    ys = [Fraction(float(a)) for a in y]
    ws = [1 / Fraction(float(b)) for b in v]
    mu = sum(w * a for w, a in zip(ws, ys)) / sum(ws)
    return float(sum(w * (a - mu) ** 2 for w, a in zip(ws, ys)))


# SMDs of metafor's dat.normand1999, escalc("SMD", m1i, sd1i, n1i, m2i, sd2i, n2i) in metafor
# 3.8-1, printed with %.17g (tests/reference/datasets/normand1999.csv has them to 15 digits)
NORMAND_YI = [-0.35516964094010689, -0.34794002273909852, -2.3175691601637305, -1.8879822529368466,
              -0.38396414116970129, 0.17214866906959103, 0.2720520738529319, -0.42459627189426086,
              0.28955623008075509]
NORMAND_VI = [0.013064675541529683, 0.064468876098856681, 0.045812110280182811, 0.16061773593617348,
              0.20543327839222422, 0.036910570000361909, 0.060267125836432664, 0.014863038419332694,
              0.036271734158054549]


def test_class1_pm_normand1999_smd():
    """PM on the SMDs of dat.normand1999: metafor 0.79433018096290176 (the old code gave 0)."""
    fit = gm.pool(NORMAND_YI, NORMAND_VI, method="PM")
    assert fit.tau2 == pytest.approx(0.79433018096290176, rel=1e-6) and fit.converged
    # and it solves the generalised Q equation y'P(tau2)y = k - 1
    assert pooling._q_gen(np.array(NORMAND_YI), np.array(NORMAND_VI), np.ones((9, 1)),
                          fit.tau2) == pytest.approx(8, rel=1e-10)


def _precise_study_data():
    rng = np.random.default_rng(1)
    v = rng.uniform(0.1, 1, 16)
    v[0] = 1e-4
    y = rng.normal(0, np.sqrt(1 + v))
    return y, v


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_class2_ml_reml_global_maximum(method):
    """16 studies, one very precise: the likelihood has a local maximum at 0 and a higher one inside.

    The old code returned 0 (score at 0 not positive) with converged=True.
    """
    y, v = _precise_study_data()
    X = np.ones((16, 1))
    fit = gm.pool(y, v, method=method)
    yc, _, _ = pooling._centre(y, X)
    ll = lambda t: pooling._profile(yc, v, X, [t], method)["ll"][0]  # noqa: E731
    assert fit.converged
    if method == "ML":
        assert fit.tau2 > 0.5 and ll(fit.tau2) > ll(0.0) + 1
    grid = np.concatenate([[0.0], np.geomspace(1e-8, 1e3, 4000)])
    assert ll(fit.tau2) >= pooling._profile(yc, v, X, grid, method)["ll"].max() - 1e-9


def test_class3_q_exact_for_large_effects():
    """Effects near 10,000 with SE 0.05: Q equals the exact rational value (old: 55.430 vs 55.4286)."""
    rng = np.random.default_rng(3)
    y = np.round(10_000 + rng.normal(0, 0.1, 30), 4)
    v = np.full(30, 0.05**2)
    exact = _exact_q(y, v)
    for m in ("EE", "DL", "REML"):
        assert gm.pool(y, v, method=m).q == pytest.approx(exact, rel=1e-12)
    # and shifting the effects moves only the estimate
    a, b = gm.pool(y, v, method="DL"), gm.pool(y - 10_000, v, method="DL")
    assert a.tau2 == pytest.approx(b.tau2, rel=1e-10) and a.estimate - 10_000 == pytest.approx(b.estimate, abs=1e-9)


def test_class3_gosh_q_zero_for_equal_effects():
    y = np.array([10_000.1, 10_000.1, 10_000.1, 10_000.4, 9_999.8])
    v = np.array([0.0025, 0.004, 0.003, 0.0025, 0.002])
    g = gm.gosh(y, v, method="EE")
    same = g[~g["study 4"] & ~g["study 5"] & (g.k > 1)]
    assert len(same) == 4 and np.all(same.q <= 1e-12)
    full = g[g.k == 5].iloc[0]
    assert full.q == pytest.approx(_exact_q(y, v), rel=1e-12)


def test_class4_knha_one_study_group_and_k2_leave_one_out():
    """metafor's rma() sets test="z" when k = 1 and goes on; so do subgroups and leave-one-out."""
    res = gm.subgroups([0.1, 0.3, 0.2, 0.9], [0.02, 0.03, 0.02, 0.05], ["a", "a", "a", "b"], test="knha")
    b = res.table.loc["b"]
    assert b.estimate == 0.9 and b.se == pytest.approx(np.sqrt(0.05), rel=1e-14)
    assert b.ci_low == pytest.approx(0.9 - 1.959963984540054 * np.sqrt(0.05), rel=1e-12)
    loo = gm.leave_one_out([0.1, 0.9], [0.02, 0.03], test="knha")
    # metafor 3.8-1: leave1out(rma(c(.1,.9), c(.02,.03), test="knha")): 0.9000 0.1732; 0.1000 0.1414
    assert loo.estimate.tolist() == [0.9, 0.1]
    assert loo.se.to_numpy() == pytest.approx(np.sqrt([0.03, 0.02]), rel=1e-14)
    with pytest.raises(ValueError, match="knha"):  # a direct one-study knha fit stays an error
        gm.pool([0.5], [0.04], test="knha")


def test_class5_regression_with_as_many_coefficients_as_studies_is_refused():
    with pytest.raises(ValueError, match="cannot estimate 2 coefficients and tau2"):
        gm.meta_regression([0.1, 0.3], [0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match="cannot estimate 3 coefficients and tau2"):
        gm.meta_regression([0.1, 0.2, 0.3], [0.1] * 3, np.column_stack([[1, 2, 3], [1, 5, 2]]))
    # EE fits, as in metafor (QE = 0 on 0 df)
    ee = gm.meta_regression([0.1, 0.3], [0.1, 0.2], [1, 2], method="EE")
    assert ee.coef == pytest.approx([-0.1, 0.2]) and ee.qe_df == 0


def _exact_trimfill_k0(y, estimator):
    """k0 of trim-and-fill (EE, equal variances, side left) in exact decimal arithmetic."""
    ys = sorted(Fraction(str(a)) for a in y)
    k, k0, prev = len(ys), 0, -1
    while k0 != prev:
        prev = k0
        b = sum(ys[: k - k0]) / (k - k0)
        dev = [a - b for a in ys]
        order = sorted(range(k), key=lambda i: (abs(dev[i]), i))
        rank = {i: r + 1 for r, i in enumerate(order)}
        if estimator == "L0":
            sr = sum(rank[i] for i in range(k) if dev[i] > 0)
            est = Fraction(4 * sr - k * (k + 1), 2 * k - 1)
        else:
            neg = [rank[i] for i in range(k) if dev[i] < 0]
            est = k - (max(neg) if neg else 0) - 1
        k0 = max(0, round(est))
    return k0


def test_class6_trimfill_ties_in_rounded_data():
    """Rounded effects: ties in |y - b| are decided by position, as in exact arithmetic.

    With these effects the EE mean is exactly 0.2 but computes to 0.20000000000000004 (or
    0.19999999999999998 by another route); the old code ranked by those last bits and found
    k0 = 1 (L0); exact arithmetic and metafor 3.8-1 give 0.
    """
    y = [0.2, 0.2, 0.4, 0, 0, -0.2, 0, 0.6, 0, 0.5, 0.3, 0.3, 0.3]
    v = [0.04] * 13
    for est in ("L0", "R0"):
        assert _exact_trimfill_k0(y, est) == 0
        for m in ("EE", "REML", "DL"):
            assert gm.trim_and_fill(y, v, method=m, estimator=est, side="left").k0 == 0
    rng = np.random.default_rng(5)
    for _ in range(60):
        yy = np.round(rng.normal(0.1, 0.3, int(rng.integers(5, 15))), 1)
        for est in ("L0", "R0"):
            got = gm.trim_and_fill(yy, np.full(len(yy), 0.04), method="EE", estimator=est, side="left").k0
            assert got == _exact_trimfill_k0(yy, est), (list(yy), est)


def test_class7_rank_test_exact_for_large_k():
    """metafor's ranktest uses cor.test(exact=TRUE): exact p without ties for any k (old: asymptotic at k >= 50)."""
    from scipy import stats

    rng = np.random.default_rng(7)
    v = rng.uniform(0.01, 0.2, 60)
    y = rng.normal(0, np.sqrt(v))
    res = gm.rank_test(y, v)
    assert res.exact
    w = 1 / v
    b = np.sum(w * y) / np.sum(w)
    ref = stats.kendalltau((y - b) / np.sqrt(v - 1 / w.sum()), v, method="exact")
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_class8_all_effects_equal():
    y, v = [0.3] * 5, [0.1, 0.2, 0.05, 0.08, 0.12]
    for call in (lambda: gm.meta_regression(y, v, [1, 2, 3, 4, 5], test="knha"),
                 lambda: gm.egger_test(y, v, test="knha"),
                 lambda: gm.egger_test(y, v, model="lm"),
                 lambda: gm.pet_peese(y, v),
                 lambda: gm.subgroups(y, v, ["a", "a", "b", "b", "b"], test="knha"),
                 lambda: gm.pool(y, v, test="knha")):
        with pytest.raises(ValueError, match="residuals are 0"):
            call()
    for est in ("L0", "R0"):
        tf = gm.trim_and_fill(y, v, estimator=est)
        assert tf.k0 == 0 and tf.fit.estimate == pytest.approx(0.3, rel=1e-15)
    fit = gm.pool(y, v)  # z test: defined (tau2 = 0, Q = 0)
    assert fit.q == 0 and fit.tau2 == 0 and fit.estimate == pytest.approx(0.3, rel=1e-15)


def test_class9_trimfill_knha_refits_with_z():
    rng = np.random.default_rng(9)
    v = rng.uniform(0.01, 0.2, 15)
    y = 0.3 + 2 * np.sqrt(v) + rng.normal(0, 0.05, 15)  # strong small-study effect
    tf = gm.trim_and_fill(y, v, test="knha")
    assert tf.k0 > 0 and tf.fit.test == "z"
    z = gm.pool(np.concatenate([y, tf.filled_yi]), np.concatenate([v, tf.filled_vi]), test="z")
    assert tf.fit.se == z.se


def test_class10_series_are_aligned_on_the_index():
    y = pd.Series([0.1, 0.5, 0.3, 0.9], index=["a", "b", "c", "d"])
    v = pd.Series([0.02, 0.05, 0.01, 0.1], index=["a", "b", "c", "d"])
    shuffled = v.loc[["d", "b", "a", "c"]]
    assert gm.pool(y, shuffled).estimate == gm.pool(y, v).estimate
    with pytest.raises(ValueError, match="index of 'vi' does not match"):
        gm.pool(y, v.set_axis(["a", "b", "c", "x"]))
    g = pd.Series(["p", "p", "q", "q"], index=y.index)
    assert gm.subgroups(y, v, g.loc[["c", "a", "d", "b"]]).table.equals(gm.subgroups(y, v, g).table)
    mods = pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0]}, index=y.index)
    assert np.array_equal(gm.meta_regression(y, v, mods.iloc[::-1]).coef, gm.meta_regression(y, v, mods).coef)
    with pytest.raises(ValueError, match="index of 'groups'"):
        gm.subgroups(y, v, g.set_axis([0, 1, 2, 3]))


def test_class10_group_labels():
    y, v = [0.1, 0.2, 0.3, 0.4], [0.1] * 4
    with pytest.raises(ValueError, match="study 3: field 'group' is missing"):
        gm.subgroups(y, v, pd.Series(["a", "a", pd.NA, "b"], dtype="string"))
    with pytest.raises(ValueError, match="study 2: field 'group' is missing"):
        gm.subgroups(y, v, [1, pd.NA, 2, 2])
    res = gm.subgroups(y, v, [1, 1.0, 2, np.int64(2)])
    assert list(res.table.index) == ["1", "2"] and res.table.k.tolist() == [2, 2]


@pytest.mark.parametrize("bad", [[True, False, True], [0.1 + 0j, 0.2, 0.3], ["0.1", "0.2", "0.3"],
                                 pd.to_datetime(["2020-01-01"] * 3),
                                 np.array(["2020-01-01"] * 3, dtype="datetime64[ns]"),
                                 np.array([1, 2, 3], dtype="timedelta64[ns]")])
def test_class10_non_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="study 1: field 'yi' must be a number"):
        gm.pool(bad, [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="field 'vi' must be a number"):
        gm.pool([0.1, 0.2, 0.3], bad)


def test_class10_estimate_tau2_checks_x():
    y, v = [0.1, 0.5, 0.3, 0.9], [0.02, 0.05, 0.01, 0.1]
    with pytest.raises(ValueError, match="study 2: a value of X"):
        gm.estimate_tau2(y, v, np.column_stack([np.ones(4), [1, np.nan, 2, 3]]))
    with pytest.raises(ValueError, match="4 rows"):
        gm.estimate_tau2(y, v, np.ones((3, 1)))
    with pytest.raises(ValueError, match="collinear"):
        gm.estimate_tau2(y, v, np.ones((4, 2)))


def test_class10_tiny_variances_are_rescaled():
    y, v = np.array([0.1, 0.8, 0.3, 1.2, -0.4]), np.array([0.02, 0.05, 0.01, 0.1, 0.03])
    s = 2.0**-500  # exact power of two, so the scaled problem is the same problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in ("DL", "PM", "REML", "ML", "HE", "SJ"):
            a, b = gm.pool(y, v, method=m), gm.pool(y * s, v * s * s, method=m)
            assert a.tau2 > 0
            assert b.tau2 == pytest.approx(a.tau2 * s * s, rel=1e-9)
            assert b.estimate == pytest.approx(a.estimate * s, rel=1e-9)
            assert b.q == pytest.approx(a.q, rel=1e-9) and b.i2 == pytest.approx(a.i2, rel=1e-9)
    with pytest.raises(ValueError, match="200 orders of magnitude"):
        gm.pool([0.1, 0.2], [1e-300, 1.0])


def test_class10_gosh_large_k_is_sampled():
    rng = np.random.default_rng(10)
    v = rng.uniform(0.01, 0.1, 70)
    y = rng.normal(0, 0.2, 70)
    g = gm.gosh(y, v, n_subsets=500, seed=1)
    assert len(g) == 500 and g.subset_id.is_unique and (g.k >= 1).all()
    row = g.iloc[0]
    mask = g.iloc[0][[f"study {i + 1}" for i in range(70)]].to_numpy(dtype=bool)
    assert row.subset_id == sum(1 << int(i) for i in np.flatnonzero(mask))
    assert row.estimate == pytest.approx(gm.pool(y[mask], v[mask], method="EE").estimate, rel=1e-10)
    assert gm.gosh(y, v, n_subsets=500, seed=1).equals(g)


# --------------------------------------------------------------------------- convergence flags

def test_pm_nonconvergence_is_reported(monkeypatch):
    d = pd.read_csv(REF / "datasets" / "normand1999.csv")
    monkeypatch.setattr(pooling, "MAXITER", 1)
    with pytest.warns(gm.ConvergenceWarning, match="did not converge"):
        fit = gm.pool(d.yi, d.vi, method="PM")
    assert fit.converged is False and fit.method == "PM"


def test_uncertified_maximum_is_reported(monkeypatch):
    """A maximum at the top of the scan (the scan cannot be extended) is not certified."""
    d = pd.read_csv(REF / "datasets" / "normand1999.csv")
    monkeypatch.setattr(pooling, "SCAN_EXTENSIONS", 0)
    monkeypatch.setattr(pooling, "_upper", lambda yc, v, X: 1e-3)
    for m in ("ML", "REML"):
        with pytest.warns(gm.ConvergenceWarning, match="could not be certified|did not converge"):
            fit = gm.pool(d.yi, d.vi, method=m)
        assert fit.converged is False


def test_gosh_uncertified_subsets_are_flagged(monkeypatch):
    from gutmeta import heterogeneity

    d = pd.read_csv(REF / "datasets" / "normand1999.csv")
    monkeypatch.setattr(pooling, "SCAN_EXTENSIONS", 0)
    monkeypatch.setattr(pooling, "_upper", lambda yc, v, X: 1e-3)
    monkeypatch.setattr(heterogeneity, "GOSH_GRID_TOP", 1e-3)
    with pytest.warns(gm.ConvergenceWarning, match="could not be certified"):
        g = gm.gosh(d.yi, d.vi, method="REML")
    assert not g.converged.all()


def test_profile_ci_nonconvergence_is_reported(monkeypatch):
    d = pd.read_csv(REF / "datasets" / "normand1999.csv")
    monkeypatch.setattr(pooling, "ROOT_MAXITER", 1)
    with pytest.warns(gm.ConvergenceWarning, match="Q-profile"):
        ci = gm.tau2_profile_ci(d.yi, d.vi)
    assert np.isnan(ci[0]) and np.isnan(ci[1])


def test_statsmodels_pm_fails_where_ours_does_not():
    """statsmodels' combine_effects PM returns 0 on normand1999 (kept only as a cross-check)."""
    y, v = np.array(NORMAND_YI), np.array(NORMAND_VI)
    assert pooling._tau2_statsmodels(y, v, "PM") == 0.0
    assert pooling._tau2_pm(y, v, np.ones((9, 1))) == pytest.approx(0.79433018096290176, rel=1e-6)
