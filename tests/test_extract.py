"""From evidence rows to effect sizes: choices, multi-arm handling, derived effects, coverage."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gutmeta as gm
from gutmeta.evidence import FILES, load_evidence

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def synthetic(tmp_path):
    """The real files plus two made-up trials (only in this temporary copy)."""
    for name in FILES + ("dictionary.csv",):
        shutil.copy(DATA / name, tmp_path / name)
    trials = pd.read_csv(tmp_path / "trials.csv", dtype=str, keep_default_na=False)
    base = {c: "" for c in trials.columns}
    rows = []
    for tid, itype in (("threearm_2020", "multiple"), ("pvalue_2021", "probiotic")):
        r = dict(base, trial_id=tid, first_author=tid.split("_")[0].title(), year=tid[-4:], eligible="yes",
                 intervention_type=itype, blinding="double-blind", source="PMID:1", locator="test | https://x.org")
        rows.append(r)
    pd.concat([trials, pd.DataFrame(rows)]).to_csv(tmp_path / "trials.csv", index=False)
    out = pd.read_csv(tmp_path / "outcomes.csv", dtype=str, keep_default_na=False)
    arms = [("probiotic", "treatment", "probiotic", 20, 10.0, 4.0), ("prebiotic", "treatment", "prebiotic", 20, 11.0, 4.0),
            ("placebo", "control", "placebo", 30, 13.0, 5.0)]
    new = [dict({c: "" for c in out.columns}, trial_id="threearm_2020", outcome="depression", scale="BDI-II",
                rater="self", direction="lower_better", timepoint="post", week="8", arm=a, arm_role=role,
                arm_type=kind, n=str(n), center=str(m), center_kind="mean", spread=str(s), spread_kind="SD",
                source="PMID:1", locator="Table 2 | https://x.org") for a, role, kind, n, m, s in arms]
    pd.concat([out, pd.DataFrame(new)]).to_csv(tmp_path / "outcomes.csv", index=False)
    rep = pd.read_csv(tmp_path / "reported_effects.csv", dtype=str, keep_default_na=False)
    new = dict({c: "" for c in rep.columns}, trial_id="pvalue_2021", outcome="anxiety", scale="HAM-A",
               rater="clinician", direction="lower_better", week="8", treatment_arm="probiotic", control_arm="placebo",
               n_treatment="25", n_control="25", statistic="p", value="0.01", favours="treatment",
               source="PMID:2", locator="abstract | https://x.org", use="yes")
    pd.concat([rep, pd.DataFrame([new])]).to_csv(tmp_path / "reported_effects.csv", index=False)
    return load_evidence(tmp_path)


def test_main_table_is_traceable():
    ev = load_evidence(DATA)
    t = gm.effect_table(ev)
    assert set(gm.extract.COLUMNS) <= set(t.columns)
    assert (t["source"].str.len() > 0).all() and (t["locator"].str.len() > 0).all()
    assert t["trial_id"].isin(ev.trials.loc[ev.trials.eligible == "yes", "trial_id"]).all()


def test_split_shares_the_control_without_double_counting(synthetic):
    t = gm.effect_table(synthetic, multi_arm="split").set_index("trial_id").loc[["threearm_2020"]]
    assert len(t) == 2 and list(t["n_control"]) == [15, 15]
    yi, vi = gm.smd(10.0, 4.0, 20, 13.0, 5.0, 15)
    assert t.iloc[0]["yi"] == pytest.approx(yi[0]) and t.iloc[0]["vi"] == pytest.approx(vi[0])
    assert set(t["intervention_type"]) == {"probiotic", "prebiotic"}
    assert "split" in t.iloc[0]["conversions"]


def test_combine_merges_the_treatment_arms(synthetic):
    t = gm.effect_table(synthetic, multi_arm="combine").set_index("trial_id").loc[["threearm_2020"]]
    assert len(t) == 1
    n, m, s = gm.combine_arms(20, 10.0, 4.0, 20, 11.0, 4.0)
    yi, _ = gm.smd(m, s, n, 13.0, 5.0, 30)
    assert t.iloc[0]["yi"] == pytest.approx(yi[0]) and t.iloc[0]["n_control"] == 30


def test_exact_p_becomes_a_flagged_derived_effect(synthetic):
    t = gm.effect_table(synthetic, outcome="anxiety").set_index("trial_id").loc["pvalue_2021"]
    want, _ = gm.smd_from_t(gm.t_from_p([0.01], [25], [25], [-1]), [25], [25])
    assert t["derived"] and t["basis"] == "p" and t["yi"] == pytest.approx(want[0]) and t["yi"] < 0
    assert "exact two-sided p" in t["conversions"]
    assert "pvalue_2021" not in set(gm.effect_table(synthetic, outcome="anxiety", include_derived=False).trial_id)


def test_unlabelled_dispersion_choice_changes_the_effect():
    ev = load_evidence(DATA)
    sd = gm.effect_table(ev, unlabelled_as="SD").set_index("trial_id").loc["akkasheh_2016"]
    se = gm.effect_table(ev, unlabelled_as="SE").set_index("trial_id").loc["akkasheh_2016"]
    # read as SEs, the SDs are SE * sqrt(n): the same mean difference is a much smaller SMD
    want, _ = gm.smd(-5.7, 6.4 * np.sqrt(20), 20, -1.5, 4.8 * np.sqrt(20), 20)
    assert se["yi"] == pytest.approx(want[0]) and abs(se["yi"]) < abs(sd["yi"]) / 3
    assert "akkasheh_2016" not in set(gm.effect_table(ev, unlabelled_as="exclude", include_derived=False).trial_id)


def test_n_fallback_is_flagged_and_optional():
    ev = load_evidence(DATA)
    row = gm.effect_table(ev).set_index("trial_id").loc["akkasheh_2016"]
    assert "from trials.csv" in row["conversions"]
    assert "akkasheh_2016" not in set(gm.effect_table(ev, n_fallback=False, include_derived=False).trial_id)


def test_coverage_explains_every_gap():
    ev = load_evidence(DATA)
    cov = gm.coverage(ev)
    assert set(cov["status"]) <= {"arm-level", "derived", "none", "excluded"}
    assert (cov.loc[cov.status.isin(["none", "excluded"]), "reason"].str.len() > 0).all()
    romijn = cov[(cov.trial_id == "romijn_2017") & (cov.outcome == "depression")].iloc[0]
    assert "only baseline" in romijn["reason"]
    counts = gm.screening_counts(ev).set_index("stage")["trials"]
    assert counts["eligible trials"] + sum(v for k, v in counts.items() if k.startswith("excluded")) == \
        counts["candidate trials (one row per trial)"]


def test_choices_are_validated():
    with pytest.raises(ValueError, match="Choices.prefer"):
        gm.Choices(prefer="baseline")
