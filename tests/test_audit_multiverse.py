"""Audit back-calculations on a simulated meta-analysis with a known answer; the multiverse."""
import numpy as np
import pandas as pd
import pytest

import gutmeta as gm
from gutmeta import audit, multiverse
from gutmeta.evidence import load_evidence


def _simulated(seed=4, k=15, n_per_arm=30, delta=-0.6, tau=0.5):
    """k trials of equal size, so the typical within-study variance is known."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(delta, tau, k)
    sd = 10.0
    m1 = rng.normal(theta * sd, sd / np.sqrt(n_per_arm))
    m2 = rng.normal(0, sd / np.sqrt(n_per_arm), k)
    s1 = sd * np.sqrt(rng.chisquare(n_per_arm - 1, k) / (n_per_arm - 1))
    s2 = sd * np.sqrt(rng.chisquare(n_per_arm - 1, k) / (n_per_arm - 1))
    return gm.smd(m1, s1, np.full(k, n_per_arm), m2, s2, np.full(k, n_per_arm))


def test_back_calculation_recovers_the_fitted_values():
    k, n = 15, 30
    yi, vi = _simulated(k=k, n_per_arm=n)
    fit = gm.pool(yi, vi, method="DL")
    # what a paper would print: rounded to 2 decimals (I2 to 1)
    est, lo, hi, i2 = (round(fit.estimate, 2), round(fit.ci_low, 2), round(fit.ci_high, 2), round(fit.i2, 1))
    se = audit.se_from_ci(lo, hi)
    assert se == pytest.approx(fit.se, abs=0.01 / 3.92 * 2)
    assert audit.p_from_ci(est, lo, hi) == pytest.approx(fit.pvalue, rel=0.3)
    vt = audit.typical_smd_variance(2 * n * k, k, est)
    assert vt == pytest.approx(np.mean(vi), rel=0.05)  # equal-size trials: the assumption holds
    tau2 = audit.implied_tau2(i2, vt)
    assert tau2 == pytest.approx(fit.tau2, rel=0.08)
    pl, ph = audit.prediction_interval(est, se, tau2)  # z version, as metafor 3.8
    assert pl == pytest.approx(fit.pi_low, abs=0.05) and ph == pytest.approx(fit.pi_high, abs=0.05)


def test_implied_tau2_inverts_i2_exactly():
    assert audit.implied_tau2(75.0, 0.1) == pytest.approx(0.3)
    assert audit.implied_tau2(0.0, 0.1) == 0


def test_ci_checks_flag_an_inconsistent_interval():
    pub = pd.DataFrame([
        dict(meta_analysis="a", outcome="depression", intervention="x", analysis="overall", measure="SMD", k=5,
             n_total=200, estimate=-0.08, ci_low=-0.39, ci_high=-0.23, i2=np.nan, verified="yes"),
        dict(meta_analysis="b", outcome="depression", intervention="x", analysis="overall", measure="SMD", k=5,
             n_total=200, estimate=-1.76, ci_low=-2.42, ci_high=-1.10, i2=96.29, verified="yes"),
    ])
    out = audit.audit_published(pub).set_index("meta_analysis")
    assert not out.loc["a", "ci_consistent"]  # estimate outside its own CI
    assert out.loc["b", "ci_consistent"]
    assert out.loc["b", "pi_low"] < -4 and out.loc["b", "pi_high"] > 0


def test_arm_count_check():
    ratio, excess = audit.arm_count_check(882, 523)
    assert ratio == pytest.approx(882 / 523) and excess == 359


def test_extraction_error_simulation_is_seeded_and_directional():
    a = audit.simulate_extraction_errors(reps=20)
    b = audit.simulate_extraction_errors(reps=20)
    pd.testing.assert_frame_equal(a, b)
    by = a.set_index("scenario")
    assert by.loc["SE as SD, 5 trials", "i2"] > by.loc["clean", "i2"]
    assert by.loc["SE as SD, 5 trials", "estimate"] < by.loc["clean", "estimate"]
    assert by.loc["control counted twice, 5 trials", "k"] == by.loc["clean", "k"] + 5


@pytest.fixture(scope="module")
def real_ev():
    return load_evidence()


@pytest.fixture(scope="module")
def mv(real_ev):
    return multiverse.run(real_ev, outcome="depression")


def test_multiverse_counts_every_specification_and_collapses_them(mv):
    n_data = np.prod([len(v) for v in multiverse.DATA_GRID.values()])
    n_pool = np.prod([len(v) for v in multiverse.POOL_GRID.values()])
    assert len(mv.specs) == n_data and mv.n_specifications == n_data * n_pool
    assert mv.analyses["n_specs"].groupby(mv.analyses["method"] + mv.analyses["test"]).sum().eq(n_data).all()
    # distinct analyses are distinct: no two share evidence, estimator and test
    assert not mv.analyses.duplicated(["evidence_id", "method", "test"]).any()
    assert not mv.evidence.duplicated(["yi", "vi"]).any()
    ran = mv.analyses.dropna(subset=["estimate"])
    assert ((ran["k"] >= 1) & ~((ran["test"] == "knha") & (ran["k"] < 2))).all()
    assert (mv.analyses.loc[mv.analyses["estimate"].isna() & (mv.analyses["k"] > 0), "not_run"].str.len() > 0).all()
    # single-trial analyses are kept apart from the share of meta-analyses
    m = mv.meta_analyses()
    assert (m["k"] >= 2).all() and mv.share_excluding_zero() == pytest.approx(m["excludes_zero"].mean())


def test_each_specification_maps_to_its_own_evidence(mv, real_ev):
    """Brute force on a seeded sample: effect_table under the specification's choices gives
    exactly the effect rows of its evidence set (this checks relevant_choices too)."""
    ev = real_ev
    rng = np.random.default_rng(20251129)
    ev_rows = mv.evidence.set_index("evidence_id")
    for i in rng.choice(len(mv.specs), size=25, replace=False):
        spec = mv.specs.iloc[i]
        choice = {c: (bool(spec[c]) if isinstance(multiverse.DATA_GRID[c][0], bool) else spec[c])
                  for c in multiverse.DATA_GRID}
        table = gm.effect_table(ev, **choice)
        e = ev_rows.loc[spec["evidence_id"]]
        assert tuple(table["yi"]) == e["yi"] and tuple(table["vi"]) == e["vi"], choice


def test_an_analysis_equals_pooling_its_evidence_directly(mv):
    row = mv.meta_analyses().query("method == 'REML' and test == 'z'").iloc[0]
    e = mv.evidence.set_index("evidence_id").loc[row["evidence_id"]]
    fit = gm.pool(list(e["yi"]), list(e["vi"]), method="REML")
    assert fit.estimate == pytest.approx(row["estimate"], rel=1e-10)


def test_choice_effects_table(mv):
    ce = multiverse.choice_effects(mv)
    assert set(ce["choice"]) == set(multiverse.DATA_GRID)
    per_choice = ce.groupby("choice")["specifications"].sum()
    assert (per_choice == mv.n_specifications).all()


def test_p_consistency_allows_for_rounding_and_flags_real_conflicts():
    # exact z test, then everything rounded as a paper would print it
    est, se = -0.38, 0.1
    lo, hi = round(est - 1.96 * se, 2), round(est + 1.96 * se, 2)
    p = 2 * __import__("scipy").stats.norm.sf(abs(est) / se)
    assert audit.p_consistent(f"{p:.3f}", est, lo, hi) is True
    assert audit.p_consistent("< 0.001", est, lo, hi) is True
    assert audit.p_consistent("0.62", -0.08, -0.39, -0.23) is False   # Dai 2025, prebiotic row
    assert audit.p_consistent("0.30", est, lo, hi) is False
    assert audit.p_consistent("", est, lo, hi) is None


def test_count_checks_find_a_trial_in_two_analyses():
    pub = pd.DataFrame([
        dict(meta_analysis="x", outcome="both", intervention="any", analysis="review: trials with data", k=20,
             verified="yes"),
        dict(meta_analysis="x", outcome="depression", intervention="probiotic", analysis="overall", k=18,
             verified="yes"),
        dict(meta_analysis="x", outcome="depression", intervention="prebiotic", analysis="overall", k=3,
             verified="yes"),
        dict(meta_analysis="x", outcome="anxiety", intervention="probiotic", analysis="overall", k=9,
             verified="yes"),
    ])
    out = audit.count_checks(pub).set_index("outcome")
    assert out.loc["depression", "at_least_counted_twice"] == 1
    assert out.loc["anxiety", "at_least_counted_twice"] == 0


def test_sign_normalisation_is_keyed_by_the_row_not_its_position():
    """The old figure looked the convention up by position after filtering; this would fail then."""
    pub = load_evidence().published
    audit_rows = audit.audit_published(pub)
    sub = audit_rows[audit_rows.analysis.str.startswith("overall")].iloc[::-1]  # filtered and reordered
    norm = audit.benefit_negative(sub).set_index(["meta_analysis", "analysis", "intervention", "outcome"])
    for key in [("hofmeister_2021", "overall", "probiotic", "depression"), ("zhu_2022", "overall",
                "probiotic (psychobiotic)", "depression"), ("asad_2024", "overall", "probiotic", "depression")]:
        rows = norm.loc[key]
        rows = rows if isinstance(rows, pd.DataFrame) else rows.to_frame().T
        assert (rows["estimate"] < 0).all(), key   # every one of these reports a benefit
        assert (rows["ci_low"] <= rows["estimate"]).all() and (rows["estimate"] <= rows["ci_high"]).all()
    assert audit.benefit_negative(sub)["sign_convention"].eq("negative_benefit").all()
    bad = sub.copy()
    bad.loc[bad.index[0], "sign_convention"] = ""
    with pytest.raises(ValueError, match="sign_convention"):
        audit.benefit_negative(bad)


def test_short_labels_never_say_nan():
    pub = load_evidence().published
    labels = [audit.short_label(r) for _, r in pub.iterrows()]
    assert not any("nan" in lab.lower() for lab in labels)
    assert audit.short_label(pub.iloc[3]) == "Asad 2024 · probiotic · depression (k = 18)"


def test_remaining_trials_by_hand():
    # equal weights: k = 4, mu = -1, read y = [0, 0] -> the other two average -2
    r = audit.remaining_trials(-1.0, -1.5, -0.5, 4, 95.0, 400, [0.0, 0.0], [0.1, 0.1])
    assert r.mean_equal == pytest.approx(-2.0)
    assert r.k_remaining == 2
    # random-effects weights: recompute the published estimate from the solution
    w = 1 / (np.array([0.1, 0.1]) + r.tau2)
    wr = 1 / (r.vt + r.tau2)
    mu = (w.sum() * 0 + 2 * wr * r.mean_re) / (w.sum() + 2 * wr)
    assert mu == pytest.approx(-1.0, rel=1e-12)
    assert r.mean_re_low < r.mean_re < r.mean_re_high
    with pytest.raises(ValueError, match="nothing remains"):
        audit.remaining_trials(-1.0, -1.5, -0.5, 2, 95.0, 400, [0.0, 0.0], [0.1, 0.1])
