"""The evidence loader: the real files load cleanly; each single defect is caught and located."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

import gutmeta as gm
from gutmeta.evidence import FILES, EvidenceError, load_evidence

DATA = Path(__file__).resolve().parents[1] / "data"


def test_real_files_load_cleanly():
    ev = load_evidence(DATA)
    assert len(ev.trials) >= 20
    assert ev.trials["trial_id"].is_unique
    assert set(ev.outcomes["trial_id"]) <= set(ev.trials["trial_id"])


def test_every_number_has_a_source_and_a_locator():
    ev = load_evidence(DATA)
    for name, frame in [("outcomes", ev.outcomes), ("reported_effects", ev.reported_effects),
                        ("published", ev.published), ("trials", ev.trials), ("risk_of_bias", ev.risk_of_bias)]:
        assert (frame["source"].str.strip() != "").all(), name
        assert (frame["locator"].str.strip() != "").all(), name
    # every page read is named by its URL in the locator, or is a registry/identifier page
    assert ev.outcomes["locator"].str.contains("http").all()


def test_secondary_numbers_are_flagged_as_such():
    ev = load_evidence(DATA)
    sec = ev.outcomes["locator"].str.startswith("secondary:")
    assert sec.sum() == ev.outcomes["locator"].str.contains("^secondary:", regex=True).sum()


def test_every_eligible_trial_or_exclusion_is_listed():
    ev = load_evidence(DATA)
    excluded = ev.trials[ev.trials["eligible"] == "no"]
    assert (excluded["exclusion_reason"].str.len() > 0).all()
    assert (excluded["exclusion_code"].str.len() > 0).all()
    # trials named in the issue and the literature notes, one row each
    expected = {"akkasheh_2016", "pinto_sanchez_2017", "romijn_2017", "ghorbani_2018", "majeed_2018",
                "miyaoka_2018", "kazemi_2019", "rudzki_2019", "chahwan_2019", "saccarello_2020",
                "provit_reininghaus_2020", "arifdjanova_2021", "zhang_2021", "haghighat_2021",
                "eskandarzadeh_2021", "vaghef_mehrabany_2021", "tian_2022", "schaub_2022", "mahboobi_2022",
                "ullah_2022", "nikolova_2023", "baiao_2023", "aslan_cin_2024", "gawlik_kotelnicka_2024",
                "moschonis_2024", "otaka_2021", "chen_2021_ps128", "freijy_2023"}
    assert expected <= set(ev.trials["trial_id"])


def test_secondary_reports_are_linked_not_duplicated():
    ev = load_evidence(DATA)
    provit = ev.trials.set_index("trial_id").loc["provit_reininghaus_2020", "secondary_reports"]
    assert "Kreuzer" in provit and "Reiter" in provit
    assert "Yamanbaeva" in ev.trials.set_index("trial_id").loc["schaub_2022", "secondary_reports"]
    assert not ev.trials["trial_id"].str.contains("kreuzer|reiter|yamanbaeva").any()


def _copy(tmp_path):
    for name in FILES + ("dictionary.csv",):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _edit(path, name, fn):
    frame = pd.read_csv(path / name, dtype=str, keep_default_na=False)
    frame = fn(frame)
    frame.to_csv(path / name, index=False)


def _set(trial, column, value, where=None):
    def fn(frame):
        mask = frame["trial_id"] == trial
        if where:
            for k, v in where.items():
                mask &= frame[k] == v
        idx = frame.index[mask][0]
        frame.loc[idx, column] = value
        return frame
    return fn


def _dup_first(trial):
    def fn(frame):
        row = frame[frame["trial_id"] == trial].iloc[[0]]
        return pd.concat([frame, row], ignore_index=True)
    return fn


def _drop_col(column):
    return lambda frame: frame.drop(columns=column)


def _add_row(values):
    def fn(frame):
        row = {c: "" for c in frame.columns}
        row.update(values)
        return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    return fn


ORPHAN = {"trial_id": "ghost_2020", "outcome": "depression", "scale": "BDI", "rater": "self",
          "direction": "lower_better", "timepoint": "post", "week": "8", "arm": "probiotic",
          "arm_role": "treatment", "arm_type": "probiotic", "n": "20", "center": "10", "center_kind": "mean",
          "spread": "3", "spread_kind": "SD", "source": "PMID:1", "locator": "Table 2 | https://example.org"}

CORRUPTIONS = [
    # (file, edit, expected pieces of the message)
    ("outcomes.csv", _set("akkasheh_2016", "spread", "-6.4"), ["outcomes.csv", "akkasheh_2016", "'spread'"]),
    ("outcomes.csv", _set("akkasheh_2016", "spread", "0"), ["outcomes.csv", "akkasheh_2016", "'spread'"]),
    ("outcomes.csv", _set("kazemi_2019", "n", "1"), ["outcomes.csv", "kazemi_2019", "'n'", "range"]),
    ("outcomes.csv", _set("kazemi_2019", "n", "27.5"), ["outcomes.csv", "kazemi_2019", "'n'", "whole number"]),
    ("outcomes.csv", _add_row(ORPHAN), ["outcomes.csv", "ghost_2020", "'trial_id'", "not in trials.csv"]),
    ("outcomes.csv", _set("schaub_2022", "source", ""), ["outcomes.csv", "schaub_2022", "'source'", "required"]),
    ("outcomes.csv", _set("schaub_2022", "locator", ""), ["outcomes.csv", "schaub_2022", "'locator'", "required"]),
    ("outcomes.csv", _set("romijn_2017", "spread_kind", "SEM"), ["outcomes.csv", "romijn_2017", "'spread_kind'", "SEM"]),
    ("outcomes.csv", _dup_first("romijn_2017"), ["outcomes.csv", "romijn_2017", "duplicate row"]),
    ("outcomes.csv", _set("akkasheh_2016", "center", "five"), ["outcomes.csv", "akkasheh_2016", "'center'", "not a number"]),
    ("outcomes.csv", _set("akkasheh_2016", "timepoint", "endpoint"), ["outcomes.csv", "akkasheh_2016", "'timepoint'"]),
    ("outcomes.csv", _set("akkasheh_2016", "spread_kind", ""), ["outcomes.csv", "akkasheh_2016", "'spread_kind'", "without its kind"]),
    ("outcomes.csv", _set("romijn_2017", "spread_kind", "CI95"), ["outcomes.csv", "romijn_2017", "'spread_low'"]),
    ("outcomes.csv", _set("akkasheh_2016", "source", "the paper"), ["outcomes.csv", "akkasheh_2016", "'source'", "no identifier"]),
    ("outcomes.csv", _drop_col("locator"), ["outcomes.csv", "header", "'locator'", "missing"]),
    ("trials.csv", _set("miyaoka_2018", "source", ""), ["trials.csv", "miyaoka_2018", "'source'", "required"]),
    ("trials.csv", _set("miyaoka_2018", "intervention_type", "postbiotic"), ["trials.csv", "miyaoka_2018", "'intervention_type'"]),
    ("trials.csv", _dup_first("miyaoka_2018"), ["trials.csv", "miyaoka_2018", "'trial_id'", "duplicate key"]),
    ("trials.csv", _set("otaka_2021", "exclusion_reason", ""), ["trials.csv", "otaka_2021", "'exclusion_reason'", "eligible = no"]),
    ("trials.csv", _set("tian_2022", "pct_female", "130"), ["trials.csv", "tian_2022", "'pct_female'", "range"]),
    ("trials.csv", _set("tian_2022", "year", "20x2"), ["trials.csv", "tian_2022", "'year'"]),
    ("reported_effects.csv", _set("akkasheh_2016", "value", "1.5"), ["reported_effects.csv", "akkasheh_2016", "'value'", "(0, 1]"]),
    ("reported_effects.csv", _set("akkasheh_2016", "value", "<0.05"), ["reported_effects.csv", "akkasheh_2016", "'value'", "not a number"]),
    ("reported_effects.csv", _set("nikolova_2023", "ci_low", "0.99"), ["reported_effects.csv", "nikolova_2023", "'ci_low'", "above"]),
    ("reported_effects.csv", _set("kazemi_2019", "use_reason", ""), ["reported_effects.csv", "kazemi_2019", "'use_reason'"]),
    ("reported_effects.csv", _set("nikolova_2023", "statistic", "z"), ["reported_effects.csv", "nikolova_2023", "'statistic'"]),
    ("risk_of_bias.csv", _set("miyaoka_2018", "judgement", "moderate"), ["risk_of_bias.csv", "miyaoka_2018", "'judgement'"]),
    ("risk_of_bias.csv", _dup_first("miyaoka_2018"), ["risk_of_bias.csv", "miyaoka_2018", "duplicate row"]),
    ("published_results.csv", lambda f: f.assign(i2=f["i2"].where(f.index != 0, "196.3")),
     ["published_results.csv", "moshfeghinia_2025", "'i2'", "range"]),
    ("published_results.csv", lambda f: f.assign(verified=f["verified"].where(f.index != 0, "maybe")),
     ["published_results.csv", "moshfeghinia_2025", "'verified'"]),
]


@pytest.mark.parametrize("name,edit,expected", CORRUPTIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CORRUPTIONS)])
def test_single_defect_is_located(tmp_path, name, edit, expected):
    path = _copy(tmp_path)
    before = {f: (path / f).read_bytes() for f in FILES}
    _edit(path, name, edit)
    edited = (path / name).read_bytes()
    with pytest.raises(EvidenceError) as err:
        load_evidence(path)
    message = str(err.value)
    first = err.value.problems[0]
    for piece in expected:
        assert piece in first, (piece, message)
    assert len(err.value.problems) == 1, err.value.problems
    # nothing written: the loader leaves every file as it was
    for f in FILES:
        assert (path / f).read_bytes() == (edited if f == name else before[f])


def test_missing_file(tmp_path):
    path = _copy(tmp_path)
    (path / "risk_of_bias.csv").unlink()
    with pytest.raises(EvidenceError, match="risk_of_bias.csv: file is missing"):
        load_evidence(path)


def test_corruption_count():
    assert len(CORRUPTIONS) >= 20


def test_public_name():
    assert gm.load_evidence is load_evidence


def test_every_trial_is_in_the_bibliography_and_cited_in_the_data_chapter():
    root = Path(__file__).resolve().parents[1]
    bib = (root / "references.bib").read_text(encoding="utf-8")
    chapter = (root / "chapters" / "data.ipynb").read_text(encoding="utf-8")
    for tid in load_evidence(DATA).trials["trial_id"]:
        assert f"{{{tid}," in bib, tid
        assert tid in chapter, tid


# --------------------------------------------------------------------------- unreadable files
# issue 8: each used to escape as a raw pandas/Python error that did not name the file

def test_empty_file_is_named(tmp_path):
    path = _copy(tmp_path)
    (path / "outcomes.csv").write_bytes(b"")
    with pytest.raises(EvidenceError, match=r"^outcomes.csv: the file is empty"):
        load_evidence(path)


def test_non_utf8_file_names_file_and_line(tmp_path):
    path = _copy(tmp_path)
    lines = (path / "trials.csv").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", "é,".encode("latin-1"), 1)
    (path / "trials.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(EvidenceError, match=r"^trials.csv, line 4: not valid UTF-8 \(byte 0xe9"):
        load_evidence(path)


def test_unbalanced_quote_names_file_and_line(tmp_path):
    path = _copy(tmp_path)
    lines = (path / "risk_of_bias.csv").read_text(encoding="utf-8").split("\n")
    lines[2] = '"' + lines[2].replace('"', "")
    (path / "risk_of_bias.csv").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(EvidenceError, match=r"^risk_of_bias.csv, line 3: malformed CSV"):
        load_evidence(path)


def test_wrong_field_count_names_file_and_line(tmp_path):
    path = _copy(tmp_path)
    text = (path / "trials.csv").read_text(encoding="utf-8").rstrip("\n") + "\nextra,row\n"
    (path / "trials.csv").write_text(text, encoding="utf-8")
    n = text.rstrip("\n").count("\n") + 1
    with pytest.raises(EvidenceError, match=rf"^trials.csv, line {n}: 2 fields"):
        load_evidence(path)


@pytest.mark.parametrize("column,value", [("spread", "1e308"), ("spread", "5000"), ("center", "-1e6"),
                                          ("spread_high", "inf")])
def test_absurd_values_are_refused(tmp_path, column, value):
    path = _copy(tmp_path)
    _edit(path, "outcomes.csv", _set("akkasheh_2016", column, value))
    with pytest.raises(EvidenceError) as err:
        load_evidence(path)
    assert "outcomes.csv" in err.value.problems[0] and f"'{column}'" in err.value.problems[0]
    assert "akkasheh_2016" in err.value.problems[0]
