"""GRADE rules (gutmeta.grade): each downgrade rule on small constructed cases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gutmeta import grade
from gutmeta.grade import Judgement


def J(domain, downgrade, label=None):
    return Judgement(domain, downgrade, label or grade.LABELS[downgrade], "constructed")


# --------------------------------------------------------------------------- Judgement

def test_judgement_validates_label_and_downgrade():
    with pytest.raises(ValueError, match="downgrade"):
        Judgement("imprecision", 3, "very serious", "x")
    with pytest.raises(ValueError, match="label"):
        Judgement("imprecision", 1, "not serious", "x")
    with pytest.raises(ValueError, match="label"):
        Judgement("imprecision", 1, "not assessable", "x")
    with pytest.raises(ValueError, match="domain"):
        Judgement("bias", 0, "not serious", "x")


# --------------------------------------------------------------------------- risk of bias

def test_rob_all_low_no_downgrade():
    j = grade.risk_of_bias([30, 30, 40], ["low", "low", "low"])
    assert (j.downgrade, j.label) == (0, "not serious")
    assert "100% at low risk" in j.reason


def test_rob_majority_some_concerns_one_level():
    j = grade.risk_of_bias([20, 30, 50], ["low", "some_concerns", "some_concerns"])
    assert (j.downgrade, j.label) == (1, "serious")
    assert "80% with some concerns" in j.reason


def test_rob_majority_high_two_levels():
    j = grade.risk_of_bias([1, 1, 3], ["low", "some_concerns", "high"])
    assert (j.downgrade, j.label) == (2, "very serious")
    assert "60% of the weight from trials at high risk" in j.reason


def test_rob_threshold_is_strictly_more_than_half():
    assert grade.risk_of_bias([1, 1], ["low", "some_concerns"]).downgrade == 0
    assert grade.risk_of_bias([1, 1], ["low", "high"]).downgrade == 0  # 50%: not more than half
    assert grade.risk_of_bias([1, 1.02], ["low", "high"]).downgrade == 2
    assert grade.risk_of_bias([1, 0.51, 0.51], ["low", "high", "some_concerns"]).downgrade == 1


def test_rob_not_assessable_counts_as_some_concerns_and_says_so():
    j = grade.risk_of_bias([1, 3], ["low", "not_assessable"])
    assert j.downgrade == 1
    assert "not assessable, counted as some concerns" in j.reason


def test_rob_uses_weight_not_trial_count():
    # three small trials with concerns, one big low-risk trial: most weight is low risk
    j = grade.risk_of_bias([10, 10, 10, 70], ["high", "high", "some_concerns", "low"])
    assert j.downgrade == 0


def test_rob_bad_input():
    with pytest.raises(ValueError, match="trial 2.*judgement"):
        grade.risk_of_bias([1, 1], ["low", "unclear"])
    with pytest.raises(ValueError, match="Akkasheh.*weight"):
        grade.risk_of_bias([-1], ["low"], labels=["Akkasheh 2016"])
    with pytest.raises(ValueError, match="same length"):
        grade.risk_of_bias([1, 2], ["low"])
    assert grade.risk_of_bias([], []).label == "not assessable"


def test_rob_on_the_real_judgement_labels():
    """The labels of data/risk_of_bias.csv are exactly the ones the rule accepts."""
    from gutmeta import load_evidence
    rob = load_evidence().risk_of_bias
    overall = rob[rob.domain == "overall"]
    assert set(overall.judgement) <= set(grade.ROB_LABELS)
    j = grade.risk_of_bias(np.ones(len(overall)), list(overall.judgement), labels=list(overall.trial_id))
    share_low = (overall.judgement == "low").mean()
    assert j.downgrade == (2 if (overall.judgement == "high").mean() > 0.5 else int(share_low < 0.5))


# --------------------------------------------------------------------------- inconsistency

def test_inconsistency_i2_90_pi_crossing_zero_downgrades():
    j = grade.inconsistency(90, 0.8, -1.9, 0.6, k=8)
    assert j.downgrade >= 1
    assert "I2 = 90%" in j.reason and "k = 8" in j.reason


def test_inconsistency_two_levels_only_when_pi_spans_important_benefit_and_harm():
    assert grade.inconsistency(90, 0.8, -1.9, 0.6, k=8, threshold=0.24).downgrade == 2
    # PI reaches the null but not an important harm: one level
    assert grade.inconsistency(90, 0.8, -1.9, 0.1, k=8, threshold=0.24).downgrade == 1
    # 60% and crossing: one level
    assert grade.inconsistency(60, 0.3, -1.0, 0.3, k=8, threshold=0.24).downgrade == 1


def test_inconsistency_large_i2_same_direction_not_serious():
    j = grade.inconsistency(80, 0.3, -1.6, -0.2, k=6)
    assert j.downgrade == 0 and "one side of the null" in j.reason


def test_inconsistency_small_i2_not_serious():
    assert grade.inconsistency(20, 0.1, -0.9, 0.2, k=6).downgrade == 0


def test_inconsistency_k1_not_assessable():
    j = grade.inconsistency(0, 0, -0.5, -0.1, k=1)
    assert (j.downgrade, j.label) == (0, "not assessable")
    assert "k = 1" in j.reason


def test_inconsistency_rejects_reversed_pi():
    with pytest.raises(ValueError, match="pi_low"):
        grade.inconsistency(50, 0.2, 0.5, -0.5, k=4)


# --------------------------------------------------------------------------- indirectness

def rows(kinds, weights=None, adjunct=None):
    weights = weights or [1] * len(kinds)
    out = pd.DataFrame({"study": [f"T{i}" for i in range(len(kinds))], "weight": weights,
                        "diagnosis_kind": kinds})
    if adjunct is not None:
        out["adjunct"] = adjunct
    return out


def test_indirectness_mostly_clinical_not_serious():
    j = grade.indirectness(rows(["clinical_diagnosis", "clinical_diagnosis", "symptom_cutoff"]))
    assert j.downgrade == 0 and "33% of the weight outside clinical_diagnosis" in j.reason


def test_indirectness_mostly_symptom_cutoff_serious():
    j = grade.indirectness(rows(["clinical_diagnosis", "symptom_cutoff"], weights=[20, 80]))
    assert (j.downgrade, j.label) == (1, "serious")
    assert "80%" in j.reason


def test_indirectness_second_fact():
    r = rows(["clinical_diagnosis"] * 3, adjunct=["no", "no", "yes"])
    j = grade.indirectness(r, direct={"diagnosis_kind": ["clinical_diagnosis"], "adjunct": ["yes"]})
    assert j.downgrade == 1 and "adjunct" in j.reason


def test_indirectness_unknown_falls_back_to_record():
    r = rows(["unclear", "unclear", "clinical_diagnosis"])
    assert grade.indirectness(r).label == "not assessable"
    rec = {"downgrade": 1, "reason": "populations mostly recruited by self-report", "source": "data chapter"}
    j = grade.indirectness(r, record=rec)
    assert j.downgrade == 1 and "recorded judgement: populations mostly recruited by self-report" in j.reason
    # the record is a fallback, not an override
    assert grade.indirectness(rows(["clinical_diagnosis"] * 3), record=rec).downgrade == 0
    with pytest.raises(ValueError, match="record"):
        grade.indirectness(r, record={"downgrade": 1})


def test_indirectness_bad_input():
    with pytest.raises(ValueError, match="no column 'diagnosis_kind'"):
        grade.indirectness(pd.DataFrame({"weight": [1]}))
    with pytest.raises(ValueError, match="T0.*weight"):
        grade.indirectness(rows(["clinical_diagnosis"], weights=[float("nan")]))


# --------------------------------------------------------------------------- imprecision

def test_ois_formula_independently():
    # n per group for a two-sample z test, alpha 0.05 two-sided, power 0.8, d = 0.2
    z = stats.norm.isf(0.025) + stats.norm.isf(0.2)
    assert grade.optimal_information_size(0.2) == 2 * math.ceil(2 * z ** 2 / 0.04) == 786
    assert grade.optimal_information_size(0.5) == 2 * 63
    # a larger effect needs fewer participants; more power needs more
    assert grade.optimal_information_size(0.24) < 786 < grade.optimal_information_size(0.2, power=0.9)
    with pytest.raises(ValueError, match="mid"):
        grade.optimal_information_size(0)


def test_imprecision_ci_crossing_null_downgrades():
    j = grade.imprecision(-0.3, -0.6, 0.05, 2000, mid=0.24)
    assert (j.downgrade, j.label) == (1, "serious")
    assert "crosses the null" in j.reason and "OIS is met" in j.reason


def test_imprecision_precise_not_serious():
    j = grade.imprecision(-0.5, -0.7, -0.3, 2000, mid=0.24)
    assert j.downgrade == 0


def test_imprecision_small_sample_alone_one_level():
    j = grade.imprecision(-0.7, -1.13, -0.28, 89, mid=0.24)
    assert j.downgrade == 1 and "89 participants against an OIS of" in j.reason


def test_imprecision_crossing_null_and_small_two_levels():
    assert grade.imprecision(-0.3, -0.8, 0.1, 100, mid=0.24).downgrade == 2


def test_imprecision_benefit_and_harm_two_levels_even_with_large_n():
    j = grade.imprecision(0.0, -0.5, 0.5, 5000, mid=0.24)
    assert j.downgrade == 2 and "important benefit and harm" in j.reason


def test_imprecision_ois_override_and_missing_estimate():
    assert grade.imprecision(-0.5, -0.7, -0.3, 300, mid=0.24, ois=200).downgrade == 0
    assert grade.imprecision(float("nan"), float("nan"), float("nan"), 0, mid=0.24).label == "not assessable"
    with pytest.raises(ValueError, match="ci_low"):
        grade.imprecision(0, 1, -1, 100, mid=0.24)


# --------------------------------------------------------------------------- publication bias

def test_publication_bias_k3_not_assessable():
    j = grade.publication_bias(3, egger_p=0.01)
    assert (j.downgrade, j.label) == (0, "not assessable")
    assert "k = 3" in j.reason


def test_publication_bias_rules_with_enough_trials():
    assert grade.publication_bias(12, egger_p=0.04).downgrade == 1
    assert grade.publication_bias(12, egger_p=0.40).downgrade == 0
    assert grade.publication_bias(12, egger_p=0.40, rank_p=0.05).downgrade == 1
    assert grade.publication_bias(12).label == "not assessable"
    with pytest.raises(ValueError, match="p-value"):
        grade.publication_bias(12, egger_p=1.5)


# --------------------------------------------------------------------------- overall

def test_overall_counts_downgrades():
    js = [J("risk of bias", 1), J("inconsistency", 0), J("indirectness", 0), J("imprecision", 1),
          J("publication bias", 0, "not assessable")]
    c = grade.overall(js)
    assert (c.certainty, c.downgrades) == ("low", 2)
    assert len(c.footnotes) == 2 and c.footnotes[0].startswith("Risk of bias rated down 1 level")
    assert grade.overall([J("imprecision", 0)]).certainty == "high"
    assert grade.overall([J("imprecision", 1)]).certainty == "moderate"
    assert grade.overall([J("imprecision", 1)], start="low").certainty == "very low"


def test_overall_floors_at_very_low():
    js = [J("risk of bias", 2), J("inconsistency", 2), J("imprecision", 2)]
    c = grade.overall(js)
    assert c.certainty == "very low" and c.downgrades == 6
    assert "rated down 2 levels" in c.footnotes[0]


def test_overall_rejects_duplicates_and_bad_start():
    with pytest.raises(ValueError, match="twice"):
        grade.overall([J("imprecision", 1), J("imprecision", 0)])
    with pytest.raises(ValueError, match="start"):
        grade.overall([], start="medium")


# --------------------------------------------------------------------------- display helpers

def test_back_transform():
    assert grade.back_transform(-0.5, 8.0) == pytest.approx(-4.0)
    np.testing.assert_allclose(grade.back_transform([-0.5, 0.25], 4), [-2.0, 1.0])
    with pytest.raises(ValueError, match="sd"):
        grade.back_transform(0.5, 0)
    txt = grade.interpretation(-0.5, -0.75, 0.1, sd=8, scale="HAM-D", sd_source="X 2020 Table 1")
    assert txt == "4.0 points lower on HAM-D (6.0 lower to 0.8 higher); SD 8 from X 2020 Table 1"


def sof_spec(**kw):
    js = [grade.risk_of_bias([1, 3], ["low", "some_concerns"]),
          grade.inconsistency(10, 0.1, -0.9, -0.1, k=2),
          grade.indirectness(rows(["clinical_diagnosis"] * 2)),
          grade.imprecision(-0.7, -1.13, -0.28, 89, mid=0.24),
          grade.publication_bias(2)]
    spec = dict(outcome="depression", analysis="REML", k=2, participants=89, estimate=-0.706,
                ci_low=-1.134, ci_high=-0.278, judgements=js, sd=7.5, scale="HAM-D",
                sd_source="a constructed SD", published="low (Paper 2025, Table 3)")
    spec.update(kw)
    return spec


def test_summary_of_findings_row():
    sof = grade.summary_of_findings([sof_spec(), sof_spec(outcome="anxiety", k=0, estimate=float("nan"))])
    assert list(sof.outcome) == ["depression", "anxiety"]
    row = sof.iloc[0]
    assert row["effect"] == "SMD −0.71 (95% CI −1.13 to −0.28)"
    assert row["certainty"] == "low"       # RoB 1 + imprecision 1
    assert row["risk of bias"] == "serious (a)" and row["imprecision"] == "serious (b)"
    assert row["publication bias"] == "not assessable (c)"
    assert row["inconsistency"] == "not serious"
    assert "(a) Risk of bias: 0% of the weight from trials at high risk, 75% with some concerns" in row["footnotes"]
    assert "(c) Publication bias: k = 2" in row["footnotes"]
    assert row["interpretation"].startswith("5.3 points lower on HAM-D")
    assert row["published certainty"] == "low (Paper 2025, Table 3)"
    empty = sof.iloc[1]
    assert empty["effect"] == "not estimable" and empty["certainty"] == "–"


def test_summary_of_findings_is_pure_and_checks_input():
    spec = sof_spec()
    a = grade.summary_of_findings([spec])
    b = grade.summary_of_findings([spec])
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="lacks judgements"):
        grade.summary_of_findings([sof_spec(judgements=[J("imprecision", 1)])])
    with pytest.raises(ValueError, match="'k'"):
        grade.summary_of_findings([{"outcome": "depression"}])
