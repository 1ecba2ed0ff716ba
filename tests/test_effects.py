"""Effect sizes and conversions: metafor escalc, independent recomputation, and bad input."""
import numpy as np
import pytest

import gutmeta as gm
from conftest import CLOSED, assert_close


def test_smd_matches_escalc(dataset, ref_values):
    d = dataset("normand1999")
    yi, vi = gm.smd(d.m1i, d.sd1i, d.n1i, d.m2i, d.sd2i, d.n2i)
    assert_close(yi, ref_values("normand1999", "escalc", "SMD", "", "yi"), CLOSED)
    assert_close(vi, ref_values("normand1999", "escalc", "SMD", "", "vi"), CLOSED)


def test_smd_from_t_matches_escalc(ref_values):
    t = ref_values("tstat", "escalc", "SMD", "", "ti")
    n1 = ref_values("tstat", "escalc", "SMD", "", "n1i")
    n2 = ref_values("tstat", "escalc", "SMD", "", "n2i")
    yi, vi = gm.smd_from_t(t, n1, n2)
    assert_close(yi, ref_values("tstat", "escalc", "SMD", "", "yi"), CLOSED)
    assert_close(vi, ref_values("tstat", "escalc", "SMD", "", "vi"), CLOSED)


def test_t_p_f_routes_agree_with_arm_data():
    """A t-test on simulated arms, re-entered as t, F and exact p, gives the arm-level g."""
    from scipy import stats
    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 4, 23), rng.normal(12, 4, 27)
    g_arm, v_arm = gm.smd(a.mean(), a.std(ddof=1), 23, b.mean(), b.std(ddof=1), 27)
    t, p = stats.ttest_ind(a, b)
    g_t, v_t = gm.smd_from_t(t, 23, 27)
    g_f, _ = gm.smd_from_t(gm.t_from_f(t**2, np.sign(t)), 23, 27)
    g_p, _ = gm.smd_from_t(gm.t_from_p(p, 23, 27, np.sign(t)), 23, 27)
    assert_close(g_t, g_arm, CLOSED)
    assert_close(v_t, v_arm, CLOSED)
    assert_close(g_f, g_arm, CLOSED)
    assert_close(g_p, g_arm, dict(rtol=1e-8, atol=0))


def test_hedges_j_limit_and_known_value():
    assert gm.hedges_j(10_000) == pytest.approx(1 - 3 / (4 * 10_000 - 1), rel=1e-8)
    # J(2) = Gamma(1) / (sqrt(1) Gamma(1/2)) = 1/sqrt(pi)
    assert gm.hedges_j(2) == pytest.approx(1 / np.sqrt(np.pi), rel=1e-14)


def test_sd_from_se_and_ci():
    assert gm.sd_from_se(0.5, 16)[0] == pytest.approx(2.0)
    # a CI built from a known SD with the t quantile returns that SD
    from scipy import stats
    n, sd, m = 12, 3.0, 10.0
    half = stats.t.isf(0.025, n - 1) * sd / np.sqrt(n)
    assert gm.sd_from_ci(m - half, m + half, n)[0] == pytest.approx(sd, rel=1e-12)


def test_wan_estimators_recover_normal_parameters():
    """Averaged over 2000 simulated normal samples of n = 40, both estimators are nearly unbiased."""
    rng = np.random.default_rng(11)
    x = rng.normal(50, 10, size=(2000, 40))
    q1, med, q3 = np.percentile(x, [25, 50, 75], axis=1)
    n = np.full(2000, 40)
    mean, sd = gm.mean_sd_from_median_iqr(med, q1, q3, n)
    assert mean.mean() == pytest.approx(50, abs=0.2) and sd.mean() == pytest.approx(10, rel=0.03)
    mean, sd = gm.mean_sd_from_median_range(med, x.min(axis=1), x.max(axis=1), n)
    assert mean.mean() == pytest.approx(50, abs=0.2) and sd.mean() == pytest.approx(10, rel=0.03)


def test_combine_arms_equals_pooled_raw_data():
    rng = np.random.default_rng(3)
    a, b = rng.normal(5, 2, 17), rng.normal(7, 3, 24)
    n, m, s = gm.combine_arms(17, a.mean(), a.std(ddof=1), 24, b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert n == 41 and m == pytest.approx(both.mean()) and s == pytest.approx(both.std(ddof=1), rel=1e-12)


def test_split_control_and_double_count_check():
    assert gm.split_control(25, 2) == [13, 12]
    assert sum(gm.split_control(37, 3)) == 37
    gm.check_shared_controls(["t1", "t1"], ["placebo", "placebo"], [13, 12], {("t1", "placebo"): 25})
    with pytest.raises(ValueError, match="t1: control arm 'placebo' is counted 50 times"):
        gm.check_shared_controls(["t1", "t1"], ["placebo", "placebo"], [25, 25], {("t1", "placebo"): 25})
    with pytest.raises(ValueError, match="cannot be split"):
        gm.split_control(3, 2)


def test_orient_flips_higher_better():
    out = gm.orient([0.5, 0.5], ["lower_better", "higher_better"])
    assert list(out) == [0.5, -0.5]
    with pytest.raises(ValueError, match="Trial X: field 'direction'"):
        gm.orient([0.5], ["sideways"], labels=["Trial X"])


@pytest.mark.parametrize("field,kwargs,message", [
    ("sd1", dict(sd1=[-1.0, 2.0]), r"Akkasheh 2016: field 'sd1' must be > 0"),
    ("sd2", dict(sd2=[2.0, 0.0]), r"Romijn 2017: field 'sd2' must be > 0"),
    ("n1", dict(n1=[1, 20]), r"Akkasheh 2016: field 'n1' must be >= 2"),
    ("m2", dict(m2=[np.nan, 3.0]), r"Akkasheh 2016: field 'm2' is missing"),
])
def test_smd_bad_input_names_study_and_field(field, kwargs, message):
    args = dict(m1=[10.0, 12.0], sd1=[3.0, 4.0], n1=[20, 20], m2=[11.0, 13.0], sd2=[3.0, 4.0], n2=[20, 21])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        gm.smd(**args, labels=["Akkasheh 2016", "Romijn 2017"])


def test_ci_low_above_high_is_rejected():
    with pytest.raises(ValueError, match=r"Trial Q: field 'ci_low' \(5.0\) must be below 'ci_high'"):
        gm.sd_from_ci([5.0], [4.0], [20], labels=["Trial Q"])


@pytest.mark.parametrize("p", [0.0, 1.5, -0.1])
def test_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=r"Trial P: field 'p' must be in \(0, 1\]"):
        gm.t_from_p([p], [20], [20], [-1], labels=["Trial P"])


def test_p_printed_as_bound_is_rejected():
    with pytest.raises(ValueError, match=r"Trial P: field 'p' must be a number \(got '<0.05'\)"):
        gm.t_from_p(["<0.05"], [20], [20], [-1], labels=["Trial P"])


def test_median_iqr_out_of_order():
    with pytest.raises(ValueError, match="Trial M: fields 'q1' <= 'median' <= 'q3'"):
        gm.mean_sd_from_median_iqr([5.0], [6.0], [9.0], [30], labels=["Trial M"])
