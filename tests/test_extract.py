"""From evidence rows to effect sizes: choices, multi-arm handling, derived effects, coverage."""
import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gutmeta as gm
from gutmeta.evidence import FILES, load_evidence

DATA = Path(__file__).resolve().parents[1] / "data"


@functools.lru_cache(maxsize=1)
def real_evidence():
    """The real evidence files, loaded once for the module (the routes cache per Evidence object)."""
    return load_evidence(DATA)


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
    ev = real_evidence()
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
    ev = real_evidence()
    sd = gm.effect_table(ev, unlabelled_as="SD").set_index("trial_id").loc["akkasheh_2016"]
    se = gm.effect_table(ev, unlabelled_as="SE").set_index("trial_id").loc["akkasheh_2016"]
    # read as SEs, the SDs are SE * sqrt(n): the same mean difference is a much smaller SMD
    want, _ = gm.smd(-5.7, 6.4 * np.sqrt(20), 20, -1.5, 4.8 * np.sqrt(20), 20)
    assert se["yi"] == pytest.approx(want[0]) and abs(se["yi"]) < abs(sd["yi"]) / 3
    assert "akkasheh_2016" not in set(gm.effect_table(ev, unlabelled_as="exclude", include_derived=False).trial_id)


def test_n_fallback_is_flagged_and_optional():
    ev = real_evidence()
    row = gm.effect_table(ev).set_index("trial_id").loc["akkasheh_2016"]
    assert "from trials.csv" in row["conversions"]
    assert "akkasheh_2016" not in set(gm.effect_table(ev, n_fallback=False, include_derived=False).trial_id)


def test_coverage_explains_every_gap():
    ev = real_evidence()
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


# ----------------------------------------------------------------------------- routes (issue 9)

ALL_ROUTE_CHOICES = [dict(), dict(include_secondary=True), dict(undirected="words"), dict(total_split="stated"),
                     dict(multi_arm="combine"), dict(unlabelled_as="SE"), dict(scale_order="self_first"),
                     dict(prefer="change"), dict(include_cointervention=True)]


@pytest.mark.parametrize("outcome", ["depression", "anxiety"])
@pytest.mark.parametrize("choice", ALL_ROUTE_CHOICES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "main")
def test_every_effect_recomputes_from_its_printed_numbers(outcome, choice):
    """Each row's yi and vi follow from its recorded inputs through its named route."""
    t = gm.effect_table(real_evidence(), outcome=outcome, **choice)
    assert len(t) > 0 or outcome == "anxiety"
    for _, row in t.iterrows():
        yi, vi = gm.extract.recompute(row)
        assert yi == pytest.approx(row["yi"], rel=1e-12, abs=1e-15) and vi == pytest.approx(row["vi"], rel=1e-12)
        assert row["route"] in gm.routes.BY_LABEL and row["derived"] == (row["route"] != "means+SD->g")


def test_main_depression_analysis_reaches_the_leads():
    ev = real_evidence()
    t = gm.effect_table(ev).set_index("trial_id")
    assert {"akkasheh_2016", "romijn_2017", "ghorbani_2018", "majeed_2018", "vaghef_mehrabany_2021", "lin_2024",
            "nikolova_2023", "zhang_2021"} <= set(t.index)
    assert t.loc["romijn_2017", "route"] == "responders->OR->SMD"
    assert t.loc["majeed_2018", "steps"] == "total split (stated)"
    assert t.loc["vaghef_mehrabany_2021", "yi"] == 0 and t.loc["lin_2024", "route"] == "no direction->g=0"
    assert not t["secondary"].any()  # third-party numbers are not used by default


def test_secondary_numbers_only_on_request():
    ev = real_evidence()
    main = gm.effect_table(ev).set_index("trial_id")
    sec = gm.effect_table(ev, include_secondary=True).set_index("trial_id")
    assert "pinto_sanchez_2017" not in main.index and sec.loc["pinto_sanchez_2017", "route"] == "responders->OR->SMD"
    # Romijn's per-arm sizes are from a review table: by default they come from the printed total instead
    assert main.loc["romijn_2017", "steps"] == "total split (assumed)"
    assert sec.loc["romijn_2017", "steps"] == "n from trial"
    cov = gm.coverage(ev).set_index(["trial_id", "outcome"])
    assert "secondary" in cov.loc[("pinto_sanchez_2017", "depression"), "reason"]


@pytest.mark.parametrize("field,value,trial", [
    ("use_responders", False, "romijn_2017"), ("undirected", "exclude", "lin_2024"),
    ("total_split", "none", "majeed_2018"), ("include_derived", False, "nikolova_2023")])
def test_each_route_can_be_switched_off(field, value, trial):
    ev = real_evidence()
    assert trial in set(gm.effect_table(ev).trial_id)
    assert trial not in set(gm.effect_table(ev, **{field: value}).trial_id)
    reason = gm.coverage(ev, gm.Choices(**{field: value})).set_index(["trial_id", "outcome"]).loc[(trial, "depression"), "reason"]
    assert reason  # the coverage table says why


def test_stated_split_only_where_allocation_is_printed():
    ev = real_evidence()
    stated = set(gm.effect_table(ev, total_split="stated").trial_id)
    assert "majeed_2018" in stated and "ghorbani_2018" not in stated and "lin_2024" not in stated


def test_undirected_words_uses_the_authors_sign(synthetic):
    ev = synthetic
    rep = ev.reported_effects.copy()
    m = rep.trial_id == "lin_2024"
    rep.loc[m, ["words_favour", "words_quote"]] = ["control", "made-up words for this test"]
    from dataclasses import replace
    ev2 = replace(ev, reported_effects=rep)
    row = gm.effect_table(ev2, undirected="words").set_index("trial_id").loc["lin_2024"]
    assert row["route"] == "exact p->t->g" and row["yi"] > 0 and "authors' words" in row["conversions"]
    assert "lin_2024" not in set(gm.effect_table(ev, undirected="words").trial_id)


def test_donor_sd_imputation(synthetic):
    """A mean without SD borrows the pooled SD of other trials on the same instrument, named."""
    from dataclasses import replace
    out = synthetic.outcomes.copy()
    m = (out.trial_id == "threearm_2020")
    out.loc[m & (out.arm == "prebiotic"), "spread"] = np.nan
    out.loc[m & (out.arm == "prebiotic"), "spread_kind"] = ""
    # a second trial on BDI-II supplies the donor SDs (4.0/5.0 from the other arms of threearm are same-trial)
    ev2 = replace(synthetic, outcomes=out)
    t = gm.effect_table(ev2, multi_arm="split").set_index("comparison")
    assert "prebiotic vs placebo" not in t.index  # no other trial on BDI-II prints an SD: no donor
    extra = out[m].copy()
    extra["trial_id"] = "akkasheh_2016"
    extra = extra[extra.arm != "prebiotic"]
    ev3 = replace(synthetic, outcomes=pd.concat([out, extra], ignore_index=True))
    from gutmeta import extract
    extract._index.cache_clear(); extract._trial_result.cache_clear()
    t = gm.effect_table(ev3, multi_arm="split")
    row = t[(t.trial_id == "threearm_2020") & t.comparison.str.startswith("prebiotic")].iloc[0]
    want = gm.routes.pooled_sd([4.0, 5.0], [20, 30])
    assert "SD imputed" in row["steps"] and "akkasheh_2016" in row["conversions"]
    assert json.loads(row["inputs"])["sd1"] == pytest.approx(want)
    assert "threearm_2020" not in set(gm.effect_table(ev3, impute_sd=False, multi_arm="split").query(
        "comparison.str.startswith('prebiotic')", engine="python").trial_id)
