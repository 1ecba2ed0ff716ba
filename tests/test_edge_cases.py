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
